package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	standin "github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/signer/purpose"
)

// The context of Token reaches the signer through MSAL's assertion callback, and that of Assertion
// directly: a recording signer (the card's, in pivauth) logs the token endpoint, the client, the
// jti and what the caller put in the context.
func TestAssertionsCarryTheirPurpose(t *testing.T) {
	var recorded *assertiontest.PurposeSigner
	f := newFixture(t, func(_ *standin.Options, co *Options) {
		recorded = &assertiontest.PurposeSigner{Signer: co.Signer}
		co.Signer = recorded
	})
	ctx := purpose.With(context.Background(), purpose.Purpose{Command: "token"})
	if _, err := f.client.Token(ctx, graphDefault); err != nil {
		t.Fatal(err)
	}
	jws, err := f.client.Assertion(purpose.With(context.Background(), purpose.Purpose{Command: "assertion"}))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[1])
	var claims struct{ JTI string }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}

	got := recorded.Purposes()
	if len(got) != 2 {
		t.Fatalf("the signer saw %d signatures, want 2", len(got))
	}
	endpoint := f.client.TokenEndpoint()
	if p := got[0]; p.Command != "token" || p.TokenEndpoint != endpoint || p.ClientID != testClientID || p.JTI == "" {
		t.Errorf("token's assertion signed for %+v; want command token, endpoint %s, client %s and a jti", p, endpoint, testClientID)
	}
	want := purpose.Purpose{Command: "assertion", TokenEndpoint: endpoint, ClientID: testClientID, JTI: claims.JTI}
	if p := got[1]; p != want {
		t.Errorf("Assertion signed for %+v, want %+v", p, want)
	}
}
