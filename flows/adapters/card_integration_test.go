//go:build linux

package adapters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	standin "github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// resourceAPI is a resource server as Azure's and Graph's are: it verifies the bearer token's
// signature with the keys the tenant publishes and requires the audience and an app role; anything
// else is answered 401 or 403. It answers the audience and roles it accepted.
func resourceAPI(t *testing.T, srv *standin.Server, audience, role string) *httptest.Server {
	t.Helper()
	resp, err := srv.HTTPClient().Get(srv.Authority() + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("tenant keys: %v (%d keys)", err, len(keys.Keys))
	}
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		obj, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
		if !ok || err != nil {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		found := keys.Key(obj.Signatures[0].Header.KeyID)
		if len(found) == 0 {
			http.Error(w, "token signed by an unknown key", http.StatusUnauthorized)
			return
		}
		payload, err := obj.Verify(found[0].Key)
		if err != nil {
			http.Error(w, "bad token signature", http.StatusUnauthorized)
			return
		}
		var c struct {
			Aud   string   `json:"aud"`
			Iss   string   `json:"iss"`
			Exp   int64    `json:"exp"`
			Roles []string `json:"roles"`
		}
		if err := json.Unmarshal(payload, &c); err != nil || c.Iss != srv.Issuer() || time.Now().Unix() >= c.Exp {
			http.Error(w, "token not from the tenant or expired", http.StatusUnauthorized)
			return
		}
		if c.Aud != audience || !slices.Contains(c.Roles, role) {
			http.Error(w, fmt.Sprintf("aud %s roles %v: not for this API", c.Aud, c.Roles), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "aud=%s roles=%v", c.Aud, c.Roles)
	}))
	t.Cleanup(api.Close)
	return api
}

// TestAdaptersOnCard: the Azure SDK's bearer-token pipeline and an oauth2 client, both fed by an
// entra.Client that signs with the piv profile card's 9A key, reach APIs that verify their tokens.
// Each resource's first token costs one card signature and one PIN verification; every later
// request, through a fresh SDK credential too, is served from a cache and sends no APDU.
func TestAdaptersOnCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx := context.Background()

	// The unattended job's PIN source: a file only its user can read.
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := signer.Open(ctx, signer.Options{Card: piv.Selector{Reader: b.Reader}, PIN: signer.Chain(signer.Env(), signer.File(pinFile))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	const (
		arm, armRole     = "https://management.azure.com", "Reader"
		graph, graphRole = "https://graph.microsoft.com", "User.Read.All"
	)
	srv, err := standin.Start(standin.Options{Apps: []standin.App{{
		ClientID:     exampleClientID,
		Certificates: []standin.Credential{{Cert: s.Certificate()}},
		Roles:        map[string][]string{arm: {armRole}, graph: {graphRole}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client, err := entra.New(entra.Options{Authority: srv.Authority(), ClientID: exampleClientID, Signer: s, Certificate: s.Certificate(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	armAPI := resourceAPI(t, srv, arm, armRole)
	graphAPI := resourceAPI(t, srv, graph, graphRole)

	// step makes one request and checks what it cost the card: signatures and PIN verifications
	// (the virtual card's counters), and no APDU at all when nothing was signed.
	step := func(name string, signatures int, do func() (*http.Response, error), want string) {
		t.Helper()
		var before vcard.Stats
		if !b.Real() {
			before = b.Stats()
		}
		resp, err := do()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("%s: %s %q (%v), want 200 %q", name, resp.Status, body, err, want)
		}
		if b.Real() {
			return
		}
		after := b.Stats()
		sigs, pins, apdus := after.Signatures-before.Signatures, after.PINVerifies-before.PINVerifies, after.APDUs-before.APDUs
		if sigs != signatures || pins != signatures || (signatures == 0 && apdus != 0) {
			t.Errorf("%s: %d card signatures, %d PIN verifications, %d APDUs; want %d signatures and PIN verifications (no APDU for none)",
				name, sigs, pins, apdus, signatures)
		}
		t.Logf("%s: %d APDUs", name, apdus)
	}

	// The Azure SDK for Go: what armresources and every other client build their requests on.
	pipeline := func() runtime.Pipeline {
		return runtime.NewPipeline("pivauth-test", "v0.0.0", runtime.PipelineOptions{
			PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(adapters.AzureCredential(client), []string{arm + "/.default"}, nil)},
		}, &policy.ClientOptions{Transport: armAPI.Client()})
	}
	azureGet := func(pl runtime.Pipeline) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, err := runtime.NewRequest(ctx, http.MethodGet, armAPI.URL+"/subscriptions")
			if err != nil {
				return nil, err
			}
			return pl.Do(req)
		}
	}
	armWant := fmt.Sprintf("aud=%s roles=[%s]", arm, armRole)
	pl := pipeline()
	step("Azure SDK, first token", 1, azureGet(pl), armWant)
	step("Azure SDK, same pipeline", 0, azureGet(pl), armWant)
	// A new pipeline has an empty token cache of its own: the token comes from the client's.
	step("Azure SDK, new pipeline", 0, azureGet(pipeline()), armWant)

	// golang.org/x/oauth2: the API's self-signed certificate is trusted by its base transport.
	hc := oauth2.NewClient(context.WithValue(ctx, oauth2.HTTPClient, graphAPI.Client()),
		adapters.OAuth2TokenSource(ctx, client, graph+"/.default"))
	graphWant := fmt.Sprintf("aud=%s roles=[%s]", graph, graphRole)
	step("oauth2, first token", 1, func() (*http.Response, error) { return hc.Get(graphAPI.URL + "/v1.0/users") }, graphWant)
	step("oauth2, cached token", 0, func() (*http.Response, error) { return hc.Get(graphAPI.URL + "/v1.0/users") }, graphWant)

	if st := srv.Stats(); st.Issued != 2 {
		t.Errorf("the tenant issued %d tokens for two resources, want 2", st.Issued)
	}
}
