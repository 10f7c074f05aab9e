package oidc_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
)

// TestStaleConnectionRetried: a server that drops a keep-alive connection as a token request
// arrives (what an idle timeout racing the next poll looks like) costs one retry on a new
// connection with a fresh assertion, not a failed sign-in. No provider can be made to do this
// on cue, so a minimal one stands in.
func TestStaleConnectionRetried(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	var (
		mu         sync.Mutex
		requests   int
		assertions = map[string]bool{}
	)
	ca := tlstest.NewCA(t, "server CA")
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/openid-configuration" {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "token_endpoint": srv.URL + "/token"})
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		requests++
		n := requests
		assertions[r.PostForm.Get("client_assertion")] = true
		mu.Unlock()
		if n == 2 { // the second token request, on the first request's connection: drop it
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "token", "token_type": "Bearer", "expires_in": 60})
	})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}}
	srv.StartTLS()
	defer srv.Close()

	c, err := oidc.New(context.Background(), oidc.Config{Issuer: srv.URL, ClientID: "app", Identity: k.identity(), TLS: mtls.Options{RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{}); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if requests != 3 || len(assertions) != 3 || k.signer.Count() != 3 {
		t.Errorf("%d requests, %d distinct assertions, %d signatures; want 3 each (one retry with a fresh assertion)",
			requests, len(assertions), k.signer.Count())
	}
}
