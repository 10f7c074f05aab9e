// Package oidctest runs panva's oidc-provider (hw-test/oidc/provider.mjs) as a real OpenID
// provider for tests, with the pieces the flows need around it: client metadata for card
// certificates, an RFC 8705 protected resource, and a test user's browser.
//
// Start installs the pinned node_modules with `npm ci` when they are missing (the npm registry is
// reachable from CI), starts node on free loopback ports and stops it when the test ends.
package oidctest

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/oidc/internal/serverproc"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/internal/testio"
)

// Config describes the provider to start.
type Config struct {
	// Clients are registered statically (RFC 7591 metadata); see PrivateKeyJWT and friends.
	Clients []Client
	// ClientCAs are trusted for tls_client_auth; nil trusts only the provider's own test CA.
	ClientCAs []*x509.Certificate
	// Resources maps resource indicators (RFC 8707) to their space-separated scopes. Access
	// tokens for a resource are ES256 JWTs with aud = the indicator.
	Resources map[string]string
	// TestUser is the account the automatic interactions sign in; "" means "bench.user".
	TestUser string
	// DenyUser makes every interaction end in access_denied.
	DenyUser bool
	// Device tunes the device authorization grant.
	Device Device
}

// Device tunes the provider's device authorization grant (RFC 8628).
type Device struct {
	// Interval is the polling interval announced, in seconds; 0 means 1.
	Interval int `json:"interval,omitempty"`
	// SlowDownPolls turns that many first "authorization_pending" answers per device code into
	// "slow_down".
	SlowDownPolls int `json:"slowDownPolls,omitempty"`
	// TTL is the device code lifetime in seconds; 0 means 600.
	TTL int `json:"ttl,omitempty"`
}

// Provider is a running oidc-provider.
type Provider struct {
	// Issuer is the issuer URL (https://127.0.0.1:PORT), also the base of every endpoint.
	Issuer string
	// MTLS is the base URL of the mtls_endpoint_aliases: a listener that asks for a client
	// certificate and accepts any (self-signed included).
	MTLS string
	// CA issued the provider's server certificate: trust it to reach Issuer and MTLS.
	CA *tlstest.CA
}

// Roots returns a pool trusting the provider's server certificate.
func (p *Provider) Roots() *x509.CertPool { return p.CA.Pool() }

// Dir returns the hw-test/oidc directory (package.json, provider.mjs).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Start starts the provider with cfg and stops it when the test ends. Without node and npm it
// fails the test (skips under -short) with what to install.
func Start(t testing.TB, cfg Config) *Provider {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node")
	}
	dir := Dir()
	installModules(t, dir)

	ca := tlstest.NewCA(t, "pivauth oidc test CA")
	server := ca.Server(t, "127.0.0.1", "localhost")
	clientCAs := cfg.ClientCAs
	if len(clientCAs) == 0 {
		clientCAs = []*x509.Certificate{ca.Cert}
	}
	clients := cfg.Clients
	if clients == nil {
		clients = []Client{}
	}
	resources := map[string]map[string]string{}
	for indicator, scope := range cfg.Resources {
		resources[indicator] = map[string]string{"scope": scope}
	}
	conf, err := json.Marshal(map[string]any{
		"host":      "127.0.0.1",
		"tls":       map[string]string{"cert": string(tlstest.PEM(server.Leaf)), "key": string(tlstest.KeyPEM(t, server.PrivateKey))},
		"clientCAs": string(tlstest.PEM(clientCAs...)),
		"clients":   clients,
		"resources": resources,
		"testUser":  cfg.TestUser,
		"denyUser":  cfg.DenyUser,
		"device":    cfg.Device,
	})
	if err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(t.TempDir(), "provider.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}

	var stderr testio.SyncBuffer
	t.Cleanup(func() { // registered first, so it runs after node has stopped
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})
	cmd := exec.Command(node, filepath.Join(dir, "provider.mjs"), confFile)
	cmd.Dir = dir
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := serverproc.Start(t, cmd)
	if err != nil {
		t.Fatalf("oidctest: start node: %v", err)
	}

	type firstLine struct {
		line []byte
		err  error // the read's: a line cut short by node's exit is no ready line
	}
	lines := make(chan firstLine, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		lines <- firstLine{line, err}
	}()
	select {
	case first := <-lines:
		var r struct{ Issuer, MTLS string }
		if first.err != nil || json.Unmarshal(first.line, &r) != nil {
			// node exited, or wrote something else while it runs on: give an exiting node a
			// moment to finish its stderr; a running one is stopped by the cleanup.
			select {
			case <-proc.Exited():
			case <-time.After(5 * time.Second):
			}
			t.Fatalf("oidctest: oidc-provider did not start (first line %q):\n%s", first.line, stderr.String())
		}
		return &Provider{Issuer: r.Issuer, MTLS: r.MTLS, CA: ca}
	case <-time.After(60 * time.Second):
		t.Fatalf("oidctest: oidc-provider did not report its ports within a minute:\n%s", stderr.String())
	}
	return nil
}

// npmTimeout bounds `npm ci`, which downloads the modules.
const npmTimeout = 5 * time.Minute

// installModules runs `npm ci` in dir when node_modules does not hold the locked oidc-provider,
// under a file lock so parallel test binaries install once.
func installModules(t testing.TB, dir string) {
	t.Helper()
	if modulesCurrent(dir) {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(t, "npm")
	}
	unlock, err := privfs.Lock(filepath.Join(dir, "node_modules.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if modulesCurrent(dir) {
		return
	}
	// npm downloads from the registry: generous, but bounded, so an unreachable registry fails
	// the test instead of holding CI until its time limit.
	ctx, cancel := context.WithTimeout(t.Context(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("oidctest: npm ci in %s did not finish within %v (is the npm registry reachable?): %v\n%s", dir, npmTimeout, err, out)
		}
		t.Fatalf("oidctest: npm ci in %s: %v\n%s", dir, err, out)
	}
	if !modulesCurrent(dir) {
		t.Fatalf("oidctest: npm ci in %s did not install the locked oidc-provider", dir)
	}
}

// modulesCurrent reports whether node_modules holds the oidc-provider version package-lock.json pins.
func modulesCurrent(dir string) bool {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	var installed struct{ Version string }
	if readJSON(filepath.Join(dir, "package-lock.json"), &lock) != nil ||
		readJSON(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"), &installed) != nil {
		return false
	}
	want := lock.Packages["node_modules/oidc-provider"].Version
	return want != "" && installed.Version == want
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// missing fails (or under -short skips) a test that needs a tool that is not installed.
func missing(t testing.TB, tool string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s is not installed", tool)
	}
	t.Fatalf("oidctest: %s is not installed: run hw-test/bench install (Debian packages nodejs and npm)", tool)
}
