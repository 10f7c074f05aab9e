package adapters_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/entra"
	standin "github.com/pivauth/pivauth/hw-test/entra"
)

const exampleClientID = "6f1d2c3b-0000-4000-8000-0000000000ee"

// exampleClient starts the Entra stand-in with an app whose certificate is a software RSA key and
// returns an entra.Client for it. In real use the signer and certificate come from the card:
//
//	s, _ := signer.Open(ctx, signer.Options{})
//	c, _ := entra.New(entra.Options{Tenant: "contoso.onmicrosoft.com", ClientID: id, Signer: s, Certificate: s.Certificate()})
func exampleClient() (*entra.Client, func()) {
	key, cert, err := assertiontest.NewKey(assertiontest.RSA2048, assertiontest.CertOptions{})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := standin.Start(standin.Options{Apps: []standin.App{{
		ClientID:     exampleClientID,
		Certificates: []standin.Credential{{Cert: cert}},
		Roles: map[string][]string{
			"https://management.azure.com": {"Reader"},
			"https://graph.microsoft.com":  {"User.Read.All"},
		},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	c, err := entra.New(entra.Options{Authority: srv.Authority(), ClientID: exampleClientID, Signer: key, Certificate: cert, HTTPClient: srv.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { srv.Close() }
}

// exampleAPI is a resource server that reports the audience and roles of the bearer token it got.
func exampleAPI() *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jwt := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(jwt, ".")
		if len(parts) != 3 {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Aud   string   `json:"aud"`
			Roles []string `json:"roles"`
		}
		json.Unmarshal(payload, &c)
		fmt.Fprintf(w, "aud=%s roles=%v", c.Aud, c.Roles)
	}))
}

// An Azure SDK for Go pipeline (what armresources, azblob and every other client build on)
// authenticating with the card through AzureCredential.
func ExampleAzureCredential() {
	client, stop := exampleClient()
	defer stop()
	api := exampleAPI()
	defer api.Close()

	cred := adapters.AzureCredential(client)
	pl := runtime.NewPipeline("example", "v1.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://management.azure.com//.default"}, nil)},
	}, &policy.ClientOptions{Transport: api.Client()})

	req, err := runtime.NewRequest(context.Background(), http.MethodGet, api.URL+"/subscriptions")
	if err != nil {
		log.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: aud=https://management.azure.com/ roles=[Reader]
}

// An oauth2 HTTP client whose bearer tokens come from the card.
func ExampleOAuth2TokenSource() {
	client, stop := exampleClient()
	defer stop()
	api := exampleAPI()
	defer api.Close()

	ctx := context.Background()
	ts := adapters.OAuth2TokenSource(ctx, client, "https://graph.microsoft.com/.default")
	// The example API has a self-signed certificate: its client is the base transport here.
	hc := oauth2.NewClient(context.WithValue(ctx, oauth2.HTTPClient, api.Client()), ts)

	resp, err := hc.Get(api.URL + "/v1.0/users")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: aud=https://graph.microsoft.com roles=[User.Read.All]
}
