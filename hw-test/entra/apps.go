package entra

import (
	"crypto/sha1" // #nosec G505 -- x5t is SHA-1 by definition (RFC 7515)
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// App is an application registration: the client id, the certificates uploaded under
// "Certificates & secrets", the application permissions granted to it (app-only tokens) and the
// delegated permissions and redirect URIs used by interactive sign-in.
type App struct {
	ClientID     string
	Name         string
	Certificates []Credential
	// Roles maps a resource (e.g. "https://graph.microsoft.com") to the application permissions
	// (app roles) granted on it; they appear in the roles claim of app-only tokens.
	Roles map[string][]string
	// Scopes maps a resource to the delegated permissions consented for it; a ".default" request
	// in interactive sign-in yields these in the scp claim.
	Scopes map[string][]string
	// RedirectURIs registered for the authorization code flow. Loopback URIs match any port, as
	// Entra does; none registered means "http://localhost".
	RedirectURIs []string
}

// Credential is a certificate registered on an app. Entra stores a key credential with an end
// date, by default the certificate's NotAfter; EndDate overrides it (zero: the certificate's).
type Credential struct {
	Cert    *x509.Certificate
	EndDate time.Time
}

func (c Credential) endDate() time.Time {
	if c.EndDate.IsZero() {
		return c.Cert.NotAfter
	}
	return c.EndDate
}

// findCredential returns the app's credential whose SHA-256 or SHA-1 thumbprint matches the
// assertion's x5t#S256 or x5t header. Entra accepts both base64url and standard base64 (MSAL sends
// the latter), so both decodings are tried.
func (a *App) findCredential(x5tS256, x5t string) (Credential, bool) {
	s256, s1 := decodeThumbprint(x5tS256), decodeThumbprint(x5t)
	for _, c := range a.Certificates {
		if d := sha256.Sum256(c.Cert.Raw); s256 != nil && string(d[:]) == string(s256) {
			return c, true
		}
		if d := sha1.Sum(c.Cert.Raw); s1 != nil && string(d[:]) == string(s1) { // #nosec G401 -- x5t lookup
			return c, true
		}
	}
	return Credential{}, false
}

// redirectAllowed applies Entra's matching: exact, except that a loopback redirect URI matches a
// registered one whatever its port.
func (a *App) redirectAllowed(redirect string) bool {
	registered := a.RedirectURIs
	if len(registered) == 0 {
		registered = []string{"http://localhost"}
	}
	got, err := url.Parse(redirect)
	if err != nil || got.Scheme == "" || got.Fragment != "" {
		return false
	}
	for _, r := range registered {
		want, err := url.Parse(r)
		if err != nil {
			continue
		}
		if isLoopback(want.Hostname()) {
			if got.Scheme == want.Scheme && strings.EqualFold(got.Hostname(), want.Hostname()) && trimSlash(got.Path) == trimSlash(want.Path) {
				return true
			}
		} else if redirect == r {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func trimSlash(p string) string { return strings.TrimSuffix(p, "/") }

func (a *App) validate() error {
	if a.ClientID == "" {
		return errors.New("entra stand-in: an app needs a client id")
	}
	for i, c := range a.Certificates {
		if c.Cert == nil {
			return fmt.Errorf("entra stand-in: app %s: certificate %d is nil", a.ClientID, i)
		}
	}
	return nil
}
