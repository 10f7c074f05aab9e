package entra

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// aadError is one of Entra's documented rejections: the OAuth error string, the AADSTS number and
// the text Entra puts after "AADSTSnnn: ".
type aadError struct {
	status int
	oauth  string
	code   int
	msg    string
}

func (e *aadError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.msg) }

// rejection builds an aadError; invalid_client rejections are 401 as Entra sends them, the rest 400.
func rejection(oauth string, code int, format string, args ...any) *aadError {
	status := http.StatusBadRequest
	if oauth == "invalid_client" {
		status = http.StatusUnauthorized
	}
	return &aadError{status: status, oauth: oauth, code: code, msg: fmt.Sprintf(format, args...)}
}

// errorBody is Entra's JSON error response.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// body renders e the way Entra does, with trace and correlation ids appended to the description.
// The correlation id echoes the client-request-id header MSAL sends.
func (s *Server) body(e *aadError, r *http.Request) errorBody {
	trace := uuid.NewString()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = uuid.NewString()
	}
	ts := s.now().UTC().Format("2006-01-02 15:04:05Z")
	return errorBody{
		Error:            e.oauth,
		ErrorDescription: fmt.Sprintf("%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.Error(), trace, corr, ts),
		ErrorCodes:       []int{e.code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         fmt.Sprintf("%s/error?code=%d", s.url, e.code),
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *aadError) {
	s.mu.Lock()
	s.rejections = append(s.rejections, e.code)
	s.mu.Unlock()
	writeJSON(w, e.status, s.body(e, r))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// decodeThumbprint decodes a JWS thumbprint header in any base64 flavour; nil if absent or invalid.
func decodeThumbprint(s string) []byte {
	if s == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// timeFormat is how Entra writes times inside error descriptions.
func timeFormat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
