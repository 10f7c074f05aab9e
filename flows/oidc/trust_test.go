package oidc_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// hostileProvider is a minimal provider on loopback TLS whose endpoints misbehave on purpose, in
// ways no real provider can be made to on cue: it answers discovery and passes the token and
// device authorization requests to the test's handlers.
func hostileProvider(t *testing.T, token, device http.HandlerFunc) (*httptest.Server, *tlstest.CA) {
	t.Helper()
	ca := tlstest.NewCA(t, "hostile provider CA")
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer": srv.URL, "token_endpoint": srv.URL + "/token", "authorization_endpoint": srv.URL + "/authorize",
				"device_authorization_endpoint": srv.URL + "/device",
			})
		case "/token":
			token(w, r)
		case "/device":
			device(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}}
	srv.StartTLS()
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() }) // ends stalled handlers
	return srv, ca
}

// stall holds a request until its client gives up or the test ends.
func stall(t *testing.T) http.HandlerFunc {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(_ http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client leaving (its background read starts
		// after the body), which ends the request's context.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// TestStalledTokenEndpointTimesOut: a token endpoint that never answers fails the request after
// HTTPTimeout with a *netsafe.TimeoutError, instead of holding the caller forever.
func TestStalledTokenEndpointTimesOut(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	srv, ca := hostileProvider(t, stall(t), nil)
	c, err := oidc.New(context.Background(), oidc.Config{Issuer: srv.URL, ClientID: "app", Identity: k.identity(),
		TLS: mtls.Options{RootCAs: ca.Pool()}, HTTPTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ClientCredentials(context.Background(), oidc.TokenRequest{})
	var te *netsafe.TimeoutError
	if !errors.As(err, &te) || te.After != time.Second {
		t.Fatalf("got %v, want a timeout after 1s", err)
	}
}

// TestDevicePollEndsWithTheCode: the device code's expires_in bounds the whole wait, a poll in
// flight at a stalled token endpoint included: the grant ends with expired_token.
func TestDevicePollEndsWithTheCode(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	srv, ca := hostileProvider(t, stall(t), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"device_code": "d", "user_code": "U", "verification_uri": "https://127.0.0.1/device", "expires_in": 1, "interval": 1})
	})
	c, err := oidc.New(context.Background(), oidc.Config{Issuer: srv.URL, ClientID: "app", Identity: k.identity(),
		TLS: mtls.Options{RootCAs: ca.Pool()}, HTTPTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// The test's own bound, far above the code's second: reached only if expires_in is ignored.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.Device(ctx, oidc.TokenRequest{}, func(oidc.DeviceCode) error { return nil })
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeExpiredToken {
		t.Fatalf("got %v, want expired_token", err)
	}
}

// TestCleartextProviderRefused: an issuer in clear, and metadata naming an endpoint in clear, are
// refused before any token request; a loopback issuer in clear is a local provider and accepted.
func TestCleartextProviderRefused(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	_, err := oidc.New(context.Background(), oidc.Config{Issuer: "http://idp.example.com", ClientID: "app", Identity: k.identity()})
	var insecure *netsafe.InsecureURLError
	if !errors.As(err, &insecure) {
		t.Fatalf("http issuer: got %v, want *netsafe.InsecureURLError", err)
	}
	meta := &oidc.Metadata{Issuer: "https://idp.example.com", TokenEndpoint: "https://idp.example.com/token",
		MTLSEndpointAliases: map[string]string{"token_endpoint": "http://mtls.idp.example.com/token"}}
	_, err = oidc.New(context.Background(), oidc.Config{Issuer: meta.Issuer, ClientID: "app", Identity: k.identity(), Metadata: meta})
	if !errors.As(err, &insecure) || insecure.What != "mtls_endpoint_aliases.token_endpoint" {
		t.Fatalf("http mTLS alias: got %v, want *netsafe.InsecureURLError naming it", err)
	}
	if k.signer.Count() != 0 {
		t.Errorf("%d signatures before the refusal", k.signer.Count())
	}
}

// idToken is an unsigned JWT with the claims (the flow reads, it does not verify, the ID token it
// got from the token endpoint over TLS).
func idToken(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "e30." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// TestAuthorizationCodeNonce: an ID token minted for another nonce (a code injected from another
// sign-in) fails the sign-in; the nonce sent passes.
func TestAuthorizationCodeNonce(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	var nonce string // the ID token's; set per case
	srv, ca := hostileProvider(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60,
			"id_token": idToken(map[string]any{"sub": "u", "nonce": nonce})})
	}, nil)
	c, err := oidc.New(context.Background(), oidc.Config{Issuer: srv.URL, ClientID: "app", Identity: k.identity(), TLS: mtls.Options{RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(idNonce func(sent string) string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.AuthorizationCode(ctx, oidc.AuthCodeRequest{TokenRequest: oidc.TokenRequest{Scopes: []string{"openid"}},
			Open: func(authURL string) error {
				u, _ := url.Parse(authURL)
				q := u.Query()
				nonce = idNonce(q.Get("nonce"))
				go redirectBack(t, q.Get("redirect_uri"), url.Values{"code": {"c"}, "state": {q.Get("state")}})
				return nil
			}})
		return err
	}
	if err := signIn(func(string) string { return "another sign-in's nonce" }); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("ID token with another nonce: got %v, want a nonce error", err)
	}
	if err := signIn(func(sent string) string { return sent }); err != nil {
		t.Errorf("ID token with the nonce sent: %v", err)
	}
}

// redirectBack plays the browser coming back to the loopback redirect with params; it returns the
// HTTP status the loopback server answered.
func redirectBack(t *testing.T, redirectURI string, params url.Values) int {
	u, err := url.Parse(redirectURI)
	if err != nil {
		t.Error(err)
		return 0
	}
	u.RawQuery = params.Encode()
	resp, err := http.Get(u.String())
	if err != nil {
		t.Errorf("redirect to %s: %v", u, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoopbackListenerHeaderDeadline: a connection to the redirect listener that never finishes its
// request headers is closed by the listener (ReadHeaderTimeout) rather than held open, and the
// sign-in still completes.
func TestLoopbackListenerHeaderDeadline(t *testing.T) {
	defer oidc.SetLoopbackHeaderTimeout(100 * time.Millisecond)()
	k := newKey(t, assertiontest.P256)
	srv, ca := hostileProvider(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60})
	}, nil)
	c, err := oidc.New(context.Background(), oidc.Config{Issuer: srv.URL, ClientID: "app", Identity: k.identity(), TLS: mtls.Options{RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	_, err = c.AuthorizationCode(ctx, oidc.AuthCodeRequest{Open: func(authURL string) error {
		u, _ := url.Parse(authURL)
		q := u.Query()
		redirect, _ := url.Parse(q.Get("redirect_uri"))
		go func() {
			conn, err := net.Dial("tcp", redirect.Host)
			if err != nil {
				closed <- err
				return
			}
			defer conn.Close()
			_, _ = conn.Write([]byte("GET " + redirect.Path + " HTTP/1.1\r\nHost: " + redirect.Host + "\r\n"))
			_, err = io.ReadAll(conn) // returns once the listener closes the connection
			closed <- err
			redirectBack(t, redirect.String(), url.Values{"code": {"c"}, "state": {q.Get("state")}})
		}()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Errorf("the stalled connection: %v", err)
	}
}
