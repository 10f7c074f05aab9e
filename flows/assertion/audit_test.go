package assertion_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/internal/audit"
)

// A signer that records its operations (as the card's does) learns what the assertion is for: the
// audit record names the token endpoint, the client and the assertion's own jti, besides what the
// caller's context said (the command).
func TestNewTellsTheSignerItsPurpose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	recorded := audit.Wrap(key, audit.Key{Slot: "9a", Certificate: cert.Raw}, log, nil)
	ctx := audit.WithPurpose(context.Background(), audit.Purpose{Command: "token"})
	token, err := assertion.New(recorded, cert, assertion.Options{Audience: aud, ClientID: clientID, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	_, _, claims := parse(t, token, cert.PublicKey)
	// Without a context the purpose is the assertion's alone.
	if _, err := assertion.New(recorded, cert, assertion.Options{Audience: aud, ClientID: "other"}); err != nil {
		t.Fatal(err)
	}

	evs, _, err := audit.Read(dir, audit.Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit: %d events, %v; want 2", len(evs), err)
	}
	want := audit.Purpose{TokenEndpoint: aud, ClientID: clientID, JTI: claims.ID, Command: "token"}
	if evs[0].Purpose != want || evs[0].Operation != audit.OpSign || evs[0].Result != audit.ResultOK {
		t.Errorf("first assertion recorded as %+v, want purpose %+v", evs[0], want)
	}
	if p := evs[1].Purpose; p.Command != "" || p.ClientID != "other" || p.JTI == "" || p.JTI == claims.ID {
		t.Errorf("second assertion's purpose %+v", p)
	}
}
