//go:build linux

package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The opt-in suite of `make interop-azure`: Debian's azure-cli and python3-azure (azure.identity)
// as clients of the managed-identity endpoint. They are large installs, so the suite runs only
// with PIVAUTH_INTEROP_AZURE=1, which the make target sets after installing them.

// interopAzure skips the test unless the suite was asked for, and then insists on its tools.
func interopAzure(t *testing.T, tools ...string) {
	t.Helper()
	if os.Getenv("PIVAUTH_INTEROP_AZURE") != "1" {
		t.Skip("opt-in: make interop-azure (installs azure-cli and python3-azure)")
	}
	for _, tool := range tools {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("%s is missing: make interop-azure installs it", tool)
		}
	}
}

// debianPython is Debian's interpreter, the one python3-azure is installed for (a python3 earlier
// in PATH, pyenv's say, does not see it).
const debianPython = "/usr/bin/python3"

// TestManagedIdentityPython: azure.identity's ManagedIdentityCredential and DefaultAzureCredential,
// two processes, two resources.
func TestManagedIdentityPython(t *testing.T) {
	interopAzure(t, debianPython)
	e := startEntraBench(t)
	e.b.ResetStats()
	issued := e.srv.Stats().Issued
	script := writeFile(t, e.c.dir, "client.py", `import json, sys
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
credential = {"managed": ManagedIdentityCredential, "default": DefaultAzureCredential}[sys.argv[1]]()
for scope in sys.argv[2:]:
    token = credential.get_token(scope)
    print(json.dumps({"scope": scope, "token": token.token, "expires_on": token.expires_on}))
`, 0o644)
	sh := `"$0" "$1" managed ` + graph + `/.default ` + vault + `/.default && "$0" "$1" default ` + graph + `/.default ` + vault + `/.default`
	r := e.c.ok(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", sh, debianPython, script)...)...)
	checkSDKRun(t, e, r, issued)
}

// fakeARM answers the two Azure Resource Manager calls `az login --identity` makes besides the
// token requests: the cloud's metadata (az cloud register) and the subscription list, which it
// gives only to a bearer token for ARM from the stand-in's tenant.
func fakeARM(t *testing.T, tenant string) (*httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	var arm *httptest.Server
	mux.HandleFunc("/metadata/endpoints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"galleryEndpoint": arm.URL + "/", "graphEndpoint": "https://graph.windows.net/", "portalEndpoint": arm.URL + "/",
			"authentication": map[string]any{"loginEndpoint": "https://login.microsoftonline.com/",
				"audiences": []string{"https://management.core.windows.net/", "https://management.azure.com/"}},
		})
	})
	mux.HandleFunc("/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, `{"error":{"code":"AuthenticationFailed"}}`, http.StatusUnauthorized)
			return
		}
		claims := jwtClaims(t, tok)
		if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != "https://management.core.windows.net" || claims["tid"] != tenant {
			http.Error(w, `{"error":{"code":"InvalidAuthenticationTokenAudience"}}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"value": []map[string]any{{
			"id": "/subscriptions/00000000-0000-4000-8000-0000000000b1", "subscriptionId": "00000000-0000-4000-8000-0000000000b1",
			"tenantId": tenant, "displayName": "pivauth bench", "state": "Enabled",
		}}})
	})
	arm = httptest.NewTLSServer(mux)
	t.Cleanup(arm.Close)
	ca := writeFile(t, t.TempDir(), "arm-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: arm.Certificate().Raw})), 0o644)
	return arm, ca
}

// TestManagedIdentityAzureCLI: `az login --identity` and `az account get-access-token` under
// `pivauth exec --managed-identity`, against a cloud whose Resource Manager is fakeARM.
func TestManagedIdentityAzureCLI(t *testing.T) {
	interopAzure(t, "/usr/bin/az")
	e := startEntraBench(t)
	arm, armCA := fakeARM(t, e.srv.Tenant())
	az := e.c.with("AZURE_CONFIG_DIR="+filepath.Join(e.c.dir, "azure"), "REQUESTS_CA_BUNDLE="+armCA,
		"AZURE_CORE_COLLECT_TELEMETRY=false", "AZURE_CORE_ONLY_SHOW_ERRORS=true")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("az", args...)
		cmd.Env, cmd.Dir = az.env, az.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("cloud", "register", "--name", "PivauthBench", "--endpoint-resource-manager", arm.URL+"/")
	run("cloud", "set", "--name", "PivauthBench")

	e.b.ResetStats()
	sh := `az login --identity --output json && az account get-access-token --resource ` + graph + ` --output json && az account get-access-token --resource ` + vault + ` --output json`
	r := az.ok(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", sh)...)...)
	if !strings.Contains(r.stdout, "pivauth bench") || !strings.Contains(r.stdout, `"type": "servicePrincipal"`) {
		t.Errorf("az login --identity: %s", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout[strings.Index(r.stdout, "]")+1:]))
	for _, res := range []string{graph, vault} {
		var at struct {
			AccessToken string `json:"accessToken"`
			Tenant      string `json:"tenant"`
		}
		if err := dec.Decode(&at); err != nil {
			t.Fatalf("az account get-access-token --resource %s: %v\n%s", res, err, r.stdout)
		}
		if aud := jwtClaims(t, at.AccessToken)["aud"]; aud != res {
			t.Errorf("az's token for %s has audience %v", res, aud)
		}
	}
	// ARM's token (az asks again for each ARM call), Graph's and Key Vault's: three signatures.
	if st := e.b.Stats(); st.Signatures != 3 {
		t.Errorf("az login and two tokens cost %d card signatures, want 3", st.Signatures)
	}
}
