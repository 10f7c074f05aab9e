//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/testio"
)

// Clients nobody here wrote: Microsoft's SDKs for Go and JavaScript, against the managed-identity
// endpoint.

var (
	goClientOnce sync.Once
	goClientPath string
	goClientErr  error
)

// goClient builds hw-test/azure/goclient (azidentity) next to the pivauth binary, once.
func goClient(t *testing.T) string {
	t.Helper()
	goClientOnce.Do(func() {
		goClientPath = filepath.Join(filepath.Dir(binary), "goclient")
		build := exec.Command("go", "build", "-o", goClientPath, "github.com/pivauth/pivauth/hw-test/azure/goclient")
		var out strings.Builder
		build.Stdout, build.Stderr = &out, &out
		if err := testio.Run(build, buildTimeout); err != nil {
			goClientErr = errors.New(err.Error() + "\n" + out.String())
		}
	})
	if goClientErr != nil {
		t.Fatalf("building the azidentity client: %v", goClientErr)
	}
	return goClientPath
}

// sdkToken is one line of the clients' output.
type sdkToken struct {
	Scope     string `json:"scope"`
	Token     string `json:"token"`
	ExpiresOn int64  `json:"expires_on"`
}

func sdkTokens(t *testing.T, out string) []sdkToken {
	t.Helper()
	var toks []sdkToken
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var tok sdkToken
		if err := json.Unmarshal([]byte(line), &tok); err != nil {
			t.Fatalf("client output %q: %v", line, err)
		}
		toks = append(toks, tok)
	}
	return toks
}

// checkSDKRun checks a run of two client processes that each asked for graph and vault under one
// `pivauth exec --managed-identity`: each token's audience is its resource, the second process got
// the first one's tokens, and the card signed once per resource.
func checkSDKRun(t *testing.T, e *entraBench, r result, issuedBefore int) {
	t.Helper()
	toks := sdkTokens(t, r.stdout)
	if len(toks) != 4 {
		t.Fatalf("%d tokens, want 4:\n%s\nstderr:\n%s", len(toks), r.stdout, r.stderr)
	}
	for i, tok := range toks {
		res := strings.TrimSuffix(tok.Scope, "/.default")
		if aud := jwtClaims(t, tok.Token)["aud"]; aud != res || time.Until(time.Unix(tok.ExpiresOn, 0)) < 50*time.Minute {
			t.Errorf("token %d for %s: aud %v, expires %v", i, tok.Scope, aud, time.Unix(tok.ExpiresOn, 0))
		}
	}
	if toks[0].Token != toks[2].Token || toks[1].Token != toks[3].Token {
		t.Errorf("the second process got other tokens than the first")
	}
	if st, issued := e.b.Stats(), e.srv.Stats().Issued-issuedBefore; st.Signatures != 2 || issued != 2 {
		t.Errorf("two processes, two resources: %d card signatures, %d tokens issued; want 2 and 2", st.Signatures, issued)
	}
}

// TestManagedIdentityGoSDK: azidentity's ManagedIdentityCredential and DefaultAzureCredential in
// two processes under `pivauth exec --managed-identity`; the audit log names the resource and the
// client's executable; a wrong or missing secret costs no signature.
func TestManagedIdentityGoSDK(t *testing.T) {
	gc := goClient(t)
	e := startEntraBench(t)
	e.b.ResetStats()
	issued := e.srv.Stats().Issued
	script := `"$0" managed ` + graph + `/.default ` + vault + `/.default && "$0" default ` + graph + `/.default ` + vault + `/.default`
	r := e.c.ok(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", script, gc)...)...)
	checkSDKRun(t, e, r, issued)

	var events []audit.Event
	decodeJSON(t, e.c.ok("audit", "--output", "json"), &events)
	found := map[string]bool{}
	for _, ev := range events {
		if strings.HasPrefix(ev.Purpose.Command, "managed-identity ") && strings.HasPrefix(ev.Purpose.Process, gc+" (pid ") {
			found[strings.TrimPrefix(ev.Purpose.Command, "managed-identity ")] = true
		}
	}
	if !found[graph] || !found[vault] || len(found) != 2 {
		t.Errorf("audit: managed-identity records %v of %d events, want %s and %s for %s", found, len(events), graph, vault, gc)
	}
	table := e.c.ok("audit").stdout
	if !strings.Contains(table, "managed-identity "+graph+": client app-card") || !strings.Contains(table, "for "+gc) {
		t.Errorf("audit table lacks the managed-identity purpose:\n%s", table)
	}

	// The SDK with a wrong secret, then with none (MSI_ENDPOINT alone: MSAL's Cloud Shell POST):
	// refused, the SDK says why, no signature.
	e.b.ResetStats()
	for _, env := range []string{"IDENTITY_HEADER=" + strings.Repeat("a", 64), "IDENTITY_HEADER= MSI_SECRET="} {
		r := e.c.run(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", "env "+env+` "$0" managed `+graph+"/.default", gc)...)...)
		if r.code != 1 || (!strings.Contains(r.stderr, "wrong secret") && !strings.Contains(r.stderr, "405")) {
			t.Errorf("%s: exit %d, stderr:\n%s", env, r.code, r.stderr)
		}
	}
	if st := e.b.Stats(); st.Signatures != 0 {
		t.Errorf("wrong and missing secrets cost %d signatures", st.Signatures)
	}
}

// TestManagedIdentityNode: @azure/identity's ManagedIdentityCredential and DefaultAzureCredential
// in Node, two processes, two resources, under `pivauth exec --managed-identity`.
func TestManagedIdentityNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: run hw-test/bench install")
	}
	dir, err := filepath.Abs("../../hw-test/azure")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@azure", "identity", "package.json")); err != nil {
		// .ci/run installs it; a checkout that has not run it installs it here, from the lock file.
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		npm.Dir = dir
		var out strings.Builder
		npm.Stdout, npm.Stderr = &out, &out
		if err := testio.Run(npm, buildTimeout); err != nil {
			t.Fatalf("@azure/identity is not installed and npm ci in %s failed (is the npm registry reachable?): %v\n%s", dir, err, out.String())
		}
	}
	e := startEntraBench(t)
	e.b.ResetStats()
	issued := e.srv.Stats().Issued
	client := filepath.Join(dir, "client.mjs")
	script := `"$0" "$1" managed ` + graph + `/.default ` + vault + ` && "$0" "$1" default ` + graph + ` ` + vault + `/.default`
	r := e.c.ok(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", script, node, client)...)...)
	checkSDKRun(t, e, r, issued)

	e.b.ResetStats()
	r = e.c.run(append([]string{"exec", "--managed-identity"}, e.args("--no-cache", "--", "sh", "-c", `IDENTITY_HEADER=wrong "$0" "$1" managed `+graph, node, client)...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "wrong secret") {
		t.Errorf("wrong secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if st := e.b.Stats(); st.Signatures != 0 {
		t.Errorf("a wrong secret cost %d signatures", st.Signatures)
	}
}
