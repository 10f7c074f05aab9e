package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	standin "github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/internal/audit"
)

// The context of Token reaches the signer through MSAL's assertion callback, and that of Assertion
// directly: a recording signer (the card's, in pivauth) logs the token endpoint, the client, the
// jti and what the caller put in the context.
func TestAssertionsCarryTheirPurpose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(_ *standin.Options, co *Options) {
		co.Signer = audit.Wrap(co.Signer, audit.Key{Slot: "9a", Certificate: co.Certificate.Raw}, log, nil)
	})
	ctx := audit.WithPurpose(context.Background(), audit.Purpose{Command: "token"})
	if _, err := f.client.Token(ctx, graphDefault); err != nil {
		t.Fatal(err)
	}
	jws, err := f.client.Assertion(audit.WithPurpose(context.Background(), audit.Purpose{Command: "assertion"}))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[1])
	var claims struct{ JTI string }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}

	evs, _, err := audit.Read(dir, audit.Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit: %d events, %v; want 2", len(evs), err)
	}
	endpoint := f.client.TokenEndpoint()
	if p := evs[0].Purpose; p.Command != "token" || p.TokenEndpoint != endpoint || p.ClientID != testClientID || p.JTI == "" {
		t.Errorf("token's assertion recorded with purpose %+v; want command token, endpoint %s, client %s and a jti", p, endpoint, testClientID)
	}
	want := audit.Purpose{Command: "assertion", TokenEndpoint: endpoint, ClientID: testClientID, JTI: claims.JTI}
	if p := evs[1].Purpose; p != want {
		t.Errorf("Assertion recorded with purpose %+v, want %+v", p, want)
	}
}
