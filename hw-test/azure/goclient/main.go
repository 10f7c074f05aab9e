// Command goclient is a program on Microsoft's Azure SDK for Go that knows nothing of pivauth: it
// gets tokens with azidentity's ManagedIdentityCredential or DefaultAzureCredential, as any Go
// program deployed to Azure does, and prints one JSON line per token. The bench tests run it under
// `pivauth exec --managed-identity`.
//
// Usage: goclient managed|default SCOPE...
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// result is one token as the SDK returned it.
type result struct {
	Scope     string `json:"scope"`
	Token     string `json:"token"`
	ExpiresOn int64  `json:"expires_on"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient managed|default SCOPE...")
		os.Exit(2)
	}
	var cred azcore.TokenCredential
	var err error
	switch os.Args[1] {
	case "managed":
		cred, err = azidentity.NewManagedIdentityCredential(nil)
	case "default":
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	default:
		err = fmt.Errorf("unknown credential %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enc := json.NewEncoder(os.Stdout)
	for _, scope := range os.Args[2:] {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "goclient:", err)
			os.Exit(1)
		}
		_ = enc.Encode(result{Scope: scope, Token: tok.Token, ExpiresOn: tok.ExpiresOn.Unix()})
	}
}
