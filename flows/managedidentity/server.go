package managedidentity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/signer/purpose"
)

// The protocol versions served, as the api-version parameter names them, and the header each
// carries the secret in.
const (
	APIVersion2019 = "2019-08-01" // IDENTITY_ENDPOINT, IDENTITY_HEADER
	APIVersion2017 = "2017-09-01" // MSI_ENDPOINT, MSI_SECRET

	header2019 = "X-IDENTITY-HEADER"
	header2017 = "secret"
)

// Path is where the endpoint answers (with or without a trailing slash: msrestazure, under Azure
// CLI, appends one to MSI_ENDPOINT).
const Path = "/msi/token"

// defaultScope is the suffix that turns a resource into its app-only scope.
const defaultScope = "/.default"

// TokenFunc gets an app-only token for scope (RESOURCE/.default). ctx carries the audit purpose
// (purpose.With) of the card signature the token may cost. It should serve a token it got
// before while the token has cache.MinRemaining left (pivauth's Entra client does: MSAL's memory,
// the token cache, the agent), so that a resource costs one signature per token lifetime.
type TokenFunc func(ctx context.Context, scope string) (cache.Token, error)

// Failure is how an error of the TokenFunc is told to the client: the OAuth-style error code and
// the description the SDK shows its user, which should say what to do.
type Failure struct {
	Code        string
	Description string
}

// Options configure a Handler.
type Options struct {
	// Secret is the value clients send in X-IDENTITY-HEADER or secret; NewSecret makes one.
	Secret string
	// ClientID is the application the tokens are for, reported in 2019-08-01 answers; a request
	// naming this client id (client_id=…) is the same identity and is served.
	ClientID string
	// Token gets the tokens.
	Token TokenFunc
	// Explain turns a TokenFunc error into what the client is told; nil uses err.Error().
	Explain func(error) Failure
	// AnyHost accepts requests whatever their Host header (the endpoint listens on a
	// non-loopback address); otherwise only loopback names are accepted.
	AnyHost bool
	// Log receives a debug record per request (never a token or the secret); nil discards.
	Log *slog.Logger
}

// Handler is the managed-identity endpoint, an http.Handler. It is safe for concurrent use.
type Handler struct {
	opts Options

	mu    sync.Mutex
	locks map[string]*sync.Mutex // by scope
}

// New returns the endpoint's handler.
func New(opts Options) (*Handler, error) {
	if len(opts.Secret) < 32 {
		return nil, errors.New("managedidentity: the secret must be at least 32 characters (use NewSecret)")
	}
	if opts.Token == nil {
		return nil, errors.New("managedidentity: a TokenFunc is required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Explain == nil {
		opts.Explain = func(err error) Failure { return Failure{Code: "token_unavailable", Description: err.Error()} }
	}
	return &Handler{opts: opts, locks: map[string]*sync.Mutex{}}, nil
}

// NewSecret returns 32 random bytes, hex-encoded: the header secret of one endpoint's lifetime.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Environment returns the variables that point the SDKs at an endpoint served at url with secret,
// in both protocol versions, as NAME=value. APPSETTING_WEBSITE_SITE_NAME says "App Service" to
// msrestazure, which Azure CLI up to 2.5x uses for `az login --identity`: without it, it takes
// MSI_ENDPOINT for Cloud Shell's and POSTs without the secret, which the endpoint refuses.
func Environment(url, secret string) []string {
	return []string{
		"IDENTITY_ENDPOINT=" + url,
		"IDENTITY_HEADER=" + secret,
		"MSI_ENDPOINT=" + url,
		"MSI_SECRET=" + secret,
		"APPSETTING_WEBSITE_SITE_NAME=pivauth",
	}
}

// EnvironmentNames are the variables Environment sets, and those that would make an SDK choose
// another managed-identity source over them (IDENTITY_SERVER_THUMBPRINT: Service Fabric;
// IMDS_ENDPOINT: Azure Arc): a child's environment should have none of them but ours.
var EnvironmentNames = []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "APPSETTING_WEBSITE_SITE_NAME",
	"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"}

// tokenResponse is the App Service answer. expires_on is epoch seconds as a string, as App Service
// sends it (azure-identity for Python, msrestazure and MSAL parse it as such in both versions).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	// ExpiresIn (seconds from now, a string as IMDS sends it) is all that hashicorp/go-azure-sdk,
	// Terraform's azurerm, reads; the SDKs take expires_on.
	ExpiresIn string `json:"expires_in"`
	Resource  string `json:"resource"`
	TokenType string `json:"token_type"`
	ClientID  string `json:"client_id,omitempty"` // 2019-08-01 only
}

// errorResponse is the error body the SDKs read and print.
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Status codes: none is retried by azcore (408, 429, 500, 502-504), msal-node's managed-identity
// policy (404, 408, 429, 500, 503, 504), MSAL Go (408, 429, 500, 502-504) or azure-core for
// Python (408, 429, 500, 502-504, 506 and up; its IMDS policy adds 404), and no answer carries
// Retry-After, which azure-core retries on whatever the status.
const (
	statusBadRequest   = http.StatusBadRequest   // the request is wrong or not for this endpoint
	statusUnauthorized = http.StatusUnauthorized // no secret, or a wrong one
	statusNoToken      = http.StatusForbidden    // Entra refused, or the card could not sign
)

// identityParams name a user-assigned identity in the protocols and the SDKs' variants of them.
var identityParams = []string{"client_id", "clientid", "principal_id", "object_id", "mi_res_id", "msi_res_id"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, fail := h.check(r)
	if fail != nil {
		h.opts.Log.Debug("managed identity: refused", "status", status, "error", fail.Error, "remote", r.RemoteAddr)
		writeJSON(w, status, fail)
		return
	}
	q := r.URL.Query()
	version := q.Get("api-version")
	resource, scope := resourceScope(firstOf(q, "resource", "scope"))
	// Requests for one resource wait for each other: concurrent clients (a tool's threads, several
	// tools at once) get the token the first one's signature bought, from the TokenFunc's cache.
	lock := h.lock(scope)
	lock.Lock()
	defer lock.Unlock()
	why := purpose.Purpose{Command: "managed-identity " + resource, Process: peerProcess(r)}
	tok, err := h.opts.Token(purpose.With(r.Context(), why), scope)
	if err != nil {
		f := h.opts.Explain(err)
		h.opts.Log.Debug("managed identity: no token", "resource", resource, "error", f.Code, "process", why.Process)
		writeJSON(w, statusNoToken, errorResponse{Error: f.Code, Description: f.Description})
		return
	}
	tokenType := tok.TokenType
	if tokenType == "" {
		tokenType = "Bearer"
	}
	resp := tokenResponse{
		AccessToken: tok.AccessToken,
		ExpiresOn:   strconv.FormatInt(tok.ExpiresOn.Unix(), 10),
		ExpiresIn:   strconv.FormatInt(int64(time.Until(tok.ExpiresOn)/time.Second), 10),
		Resource:    resource,
		TokenType:   tokenType,
	}
	if version == APIVersion2019 {
		resp.ClientID = h.opts.ClientID
	}
	h.opts.Log.Debug("managed identity: token", "resource", resource, "api_version", version, "expires_on", tok.ExpiresOn, "cached", tok.Cached)
	writeJSON(w, http.StatusOK, resp)
}

// check refuses what is not a token request of a local client with the secret, before anything
// else is done: Host and Origin first (a browser page's request, DNS rebinding), then the secret,
// then the parameters. It returns the status and body of the refusal, or nil.
func (h *Handler) check(r *http.Request) (int, *errorResponse) {
	if r.URL.Path != Path && r.URL.Path != Path+"/" {
		// 400, not 404: msal-node and azure-identity for Python retry a 404.
		return statusBadRequest, &errorResponse{"invalid_request", "the managed-identity endpoint is " + Path}
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		return statusBadRequest, &errorResponse{"invalid_request", fmt.Sprintf("requests from web pages (Origin %s) are refused: the endpoint serves local programs", origin)}
	}
	if !h.opts.AnyHost && !loopbackHost(r.Host) {
		return statusBadRequest, &errorResponse{"invalid_request", fmt.Sprintf("Host %q is not a loopback name: ask for IDENTITY_ENDPOINT as given", r.Host)}
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, &errorResponse{"invalid_request", "the endpoint answers GET requests"}
	}
	q := r.URL.Query()
	version := q.Get("api-version")
	var sent string
	switch version {
	case APIVersion2019:
		sent = r.Header.Get(header2019)
	case APIVersion2017:
		sent = r.Header.Get(header2017)
	default:
		// The secret is still checked first: a caller without it learns nothing here.
		sent = firstHeader(r, header2019, header2017)
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(h.opts.Secret)) != 1 {
		what := "a wrong secret"
		if sent == "" {
			what = "no secret"
		}
		return statusUnauthorized, &errorResponse{"unauthorized", fmt.Sprintf("the request carries %s: send IDENTITY_HEADER in the %s header (api-version %s) or MSI_SECRET in the %s header (api-version %s)",
			what, header2019, APIVersion2019, header2017, APIVersion2017)}
	}
	if version != APIVersion2019 && version != APIVersion2017 {
		return statusBadRequest, &errorResponse{"invalid_request", fmt.Sprintf("api-version %q is not served: use %s or %s", version, APIVersion2019, APIVersion2017)}
	}
	if resource, _ := resourceScope(firstOf(q, "resource", "scope")); resource == "" {
		return statusBadRequest, &errorResponse{"invalid_request", "the request names no resource: resource=https://graph.microsoft.com (or its scope, …/.default)"}
	}
	for _, p := range identityParams {
		v := q.Get(p)
		if v == "" || (strings.Contains(p, "client") && strings.EqualFold(v, h.opts.ClientID)) {
			continue
		}
		return statusBadRequest, &errorResponse{"invalid_request", fmt.Sprintf("the request asks for another identity (%s=%s), but this endpoint serves only app %s with the certificate on the card: remove the identity from the request (AZURE_CLIENT_ID, DEFAULT_IDENTITY_CLIENT_ID, the credential's client/object/resource ID option)",
			p, v, h.opts.ClientID)}
	}
	return 0, nil
}

// lock returns the mutex of scope's requests.
func (h *Handler) lock(scope string) *sync.Mutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[scope]
	if !ok {
		l = &sync.Mutex{}
		h.locks[scope] = l
	}
	return l
}

// resourceScope accepts a resource ("https://graph.microsoft.com", ARM's
// "https://management.core.windows.net/") or its scope ("…/.default") and returns both. The scope
// is the resource with "/.default" appended as it was written, as MSAL does: ARM's v1 resource
// with its trailing slash becomes "https://management.core.windows.net//.default".
func resourceScope(s string) (resource, scope string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	resource = strings.TrimSuffix(s, defaultScope)
	if resource == "" {
		return "", ""
	}
	return resource, resource + defaultScope
}

// loopbackHost reports whether a Host header names this machine's loopback interface.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func firstOf(q map[string][]string, names ...string) string {
	for _, n := range names {
		if v := q[n]; len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
