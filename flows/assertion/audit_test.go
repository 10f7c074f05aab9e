package assertion_test

import (
	"context"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/signer/purpose"
)

// A signer that records its operations (as the card's does) learns what the assertion is for: the
// purpose it sees names the token endpoint, the client and the assertion's own jti, besides what the
// caller's context said (the command).
func TestNewTellsTheSignerItsPurpose(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	recorded := &assertiontest.PurposeSigner{Signer: key}
	ctx := purpose.With(context.Background(), purpose.Purpose{Command: "token"})
	token, err := assertion.New(recorded, cert, assertion.Options{Audience: aud, ClientID: clientID, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	_, _, claims := parse(t, token, cert.PublicKey)
	// Without a context the purpose is the assertion's alone.
	if _, err := assertion.New(recorded, cert, assertion.Options{Audience: aud, ClientID: "other"}); err != nil {
		t.Fatal(err)
	}

	got := recorded.Purposes()
	if len(got) != 2 {
		t.Fatalf("the signer saw %d signatures, want 2", len(got))
	}
	want := purpose.Purpose{TokenEndpoint: aud, ClientID: clientID, JTI: claims.ID, Command: "token"}
	if got[0] != want {
		t.Errorf("first assertion signed for %+v, want %+v", got[0], want)
	}
	if p := got[1]; p.Command != "" || p.ClientID != "other" || p.JTI == "" || p.JTI == claims.ID {
		t.Errorf("second assertion's purpose %+v", p)
	}
}
