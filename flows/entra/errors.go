package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/pivauth/pivauth/internal/netsafe"
)

// Error is an error answer from Entra ID, with its AADSTS code and what to do about it.
type Error struct {
	// Code is the AADSTS number (700027 for "AADSTS700027"); 0 when Entra sent none.
	Code int
	// OAuthError is the OAuth error string, e.g. "invalid_client".
	OAuthError string
	// Description is Entra's error_description without the trailing trace lines.
	Description string
	// TraceID and CorrelationID identify the request for Microsoft support and sign-in logs.
	TraceID, CorrelationID string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Hint says what to do, in terms of this client's certificate, app and tenant.
	Hint string
	// Err is the underlying MSAL error.
	Err error
}

// Error puts the advice first and Entra's own words, with the ids support asks for, after it.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != 0 {
		fmt.Fprintf(&b, "AADSTS%d: ", e.Code)
	}
	var details []string
	if e.Hint != "" {
		b.WriteString(e.Hint)
		details = append(details, "Entra: "+e.Description)
	} else {
		b.WriteString(e.Description)
	}
	if e.TraceID != "" {
		details = append(details, fmt.Sprintf("trace ID %s, correlation ID %s", e.TraceID, e.CorrelationID))
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, "; "))
	}
	return b.String()
}

// Unwrap returns the MSAL error.
func (e *Error) Unwrap() error { return e.Err }

// errorResponse is Entra's JSON error body.
type errorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// explain turns an MSAL error carrying an Entra error response into an *Error with a hint; other
// errors (network, TLS, the card) pass through as they are: they say what failed themselves.
func (c *Client) explain(err error) error {
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil || ce.Resp.Body == nil {
		return err
	}
	data, rerr := io.ReadAll(ce.Resp.Body)
	var r errorResponse
	if rerr != nil || json.Unmarshal(data, &r) != nil || (r.Error == "" && len(r.ErrorCodes) == 0) {
		// MSAL's message quotes the answer's body: printed without control characters.
		return fmt.Errorf("entra: %s answered HTTP %d without an Entra error: %w", c.authority, ce.Resp.StatusCode, netsafe.PrintableError(err))
	}
	// Entra's words are printed: without control characters.
	e := &Error{
		OAuthError:    netsafe.Printable(r.Error),
		Description:   netsafe.Printable(firstLine(r.ErrorDescription)),
		TraceID:       netsafe.Printable(r.TraceID),
		CorrelationID: netsafe.Printable(r.CorrelationID),
		StatusCode:    ce.Resp.StatusCode,
		Err:           err,
	}
	if len(r.ErrorCodes) > 0 {
		e.Code = r.ErrorCodes[0]
	}
	// The description repeats the code; the message puts it in front once.
	e.Description = strings.TrimPrefix(e.Description, fmt.Sprintf("AADSTS%d: ", e.Code))
	e.Hint = c.hint(e)
	return e
}

// hint says what an AADSTS code means for this client, or "" for codes without advice (the
// description then stands on its own).
func (c *Client) hint(e *Error) string {
	app, tenant := c.opts.ClientID, c.authority
	switch e.Code {
	case 700027:
		if strings.Contains(e.Description, "key was found") || strings.Contains(e.Description, "failed signature validation") {
			return fmt.Sprintf("the signature does not verify with the certificate registered on app %s under SHA-1 thumbprint %s: the card's key and the uploaded certificate differ; upload the certificate now on the card under Certificates & secrets", app, c.sha1Hex)
		}
		return fmt.Sprintf("the certificate on the card (SHA-1 thumbprint %s) is not registered on app %s: upload it under Certificates & secrets", c.sha1Hex, app)
	case 7000274:
		return fmt.Sprintf("the certificate registered on app %s (SHA-1 thumbprint %s) has expired in Entra: make a new one on the card and upload it under Certificates & secrets", app, c.sha1Hex)
	case 700024:
		return fmt.Sprintf("Entra's clock is outside the client assertion's validity window (this machine thinks it is %s UTC): check the system time and time zone (timedatectl; enable NTP)", c.now().UTC().Format("2006-01-02 15:04:05"))
	case 90002:
		return fmt.Sprintf("tenant not found at %s: check the tenant (the Directory (tenant) ID or a verified domain) and the cloud (national clouds need their own authority, e.g. %s/<tenant>)", tenant, USGovernmentCloud)
	case 700016:
		return fmt.Sprintf("app %s was not found in the tenant at %s: check the client id (the Application (client) ID, not the object id) and the tenant; a multi-tenant app must first be consented to in this tenant", app, tenant)
	case 50048, 700021:
		return fmt.Sprintf("the client assertion names another client than %s: check the client id", app)
	case 700023:
		return fmt.Sprintf("the client assertion's audience is not the token endpoint of %s: check the tenant and the cloud of the authority", tenant)
	case 5002738:
		return "Entra accepts only RSA keys for client assertions: use a slot holding an RSA key (generate one: RSA-2048 or larger)"
	case 7000215, 7000218:
		return fmt.Sprintf("Entra expected a client secret or got no credential, but this client authenticates app %s with the card's certificate (SHA-1 %s): make sure that certificate is uploaded under Certificates & secrets and nothing sends a client_secret", app, c.sha1Hex)
	case 7000112:
		return fmt.Sprintf("app %s is disabled in this tenant: an administrator must enable it (Enterprise applications > Properties > Enabled for users to sign in)", app)
	case 1002012:
		return "app-only tokens need one resource's .default scope, e.g. https://graph.microsoft.com/.default or https://outlook.office365.com/.default"
	case 700022:
		return "ask for one resource per token: split the scopes into one request per resource"
	case 500011:
		return "the scope's resource does not exist in this tenant: check the scope (e.g. https://graph.microsoft.com/.default) and that the service is enabled for the tenant"
	case 65001:
		return fmt.Sprintf("the permissions asked for are not consented for app %s: an administrator must grant admin consent (API permissions > Grant admin consent)", app)
	case 50011:
		return fmt.Sprintf("the loopback redirect URI is not registered on app %s: add http://localhost under Authentication (Web platform)", app)
	case 53003:
		return "a Conditional Access policy blocked the sign-in: ask the tenant administrator which policy applies"
	case 50013:
		return "Entra refused the client assertion as invalid or replayed: each request needs a fresh assertion; check the system clock if this repeats"
	}
	return ""
}

// firstLine drops the "\r\nTrace ID: …" lines Entra appends to descriptions.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return strings.TrimSpace(s)
}
