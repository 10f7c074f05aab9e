package adapters_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/entra"
	standin "github.com/pivauth/pivauth/hw-test/entra"
)

func newClient(t *testing.T) (*entra.Client, *assertiontest.CountingSigner, *standin.Server) {
	t.Helper()
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	srv, err := standin.Start(standin.Options{Apps: []standin.App{{ClientID: exampleClientID, Certificates: []standin.Credential{{Cert: cert}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cs := &assertiontest.CountingSigner{Signer: key}
	c, err := entra.New(entra.Options{Authority: srv.Authority(), ClientID: exampleClientID, Signer: cs, Certificate: cert, HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs, srv
}

func TestAzureCredential(t *testing.T) {
	c, cs, _ := newClient(t)
	cred := adapters.AzureCredential(c)
	ctx := context.Background()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(tok.ExpiresOn) < 50*time.Minute || !tok.RefreshOn.Equal(tok.ExpiresOn.Add(-cache.MinRemaining)) || cs.Count() != 1 {
		t.Errorf("token expires %v, refresh %v, %d signatures", tok.ExpiresOn, tok.RefreshOn, cs.Count())
	}
	for name, o := range map[string]policy.TokenRequestOptions{
		"claims challenge": {Scopes: []string{"https://vault.azure.net/.default"}, Claims: `{"access_token":{"nbf":{"essential":true}}}`},
		"no scopes":        {},
	} {
		if _, err := cred.GetToken(ctx, o); err == nil || !strings.Contains(err.Error(), "pivauth") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cs.Count() != 1 {
		t.Errorf("refused requests signed: %d signatures", cs.Count())
	}
}

func TestOAuth2TokenSourceReuses(t *testing.T) {
	c, cs, srv := newClient(t)
	ts := adapters.OAuth2TokenSource(context.Background(), c, "https://graph.microsoft.com/.default")
	a, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessToken != b.AccessToken || a.TokenType != "Bearer" || !a.Valid() || cs.Count() != 1 || srv.Stats().Token != 1 {
		t.Errorf("tokens %v/%v, %d signatures, %d requests", a.AccessToken == b.AccessToken, a.TokenType, cs.Count(), srv.Stats().Token)
	}
}
