//go:build linux

package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// hardCaseQuirks are the cards on which the light ways of ending the security status fail: no
// VERIFY P1=FF, status kept across SELECT, a PIN change that leaves the PIN verified.
var hardCaseQuirks = []vcard.Quirk{vcard.QuirkNoPINReset, vcard.QuirkStatusAcrossSelect, vcard.QuirkChangeRefVerifies}

// TestNoCommandLeavesCardOpen runs every command that touches the card on both profiles and on the
// hard-case cards, and after each has another PC/SC client send, with no SELECT, an empty VERIFY
// and a GENERATE in retired slot 82: neither may succeed. Commands that fail on a card kind (setup
// on an issued card) are checked too: a refused command must not leave the card open either.
func TestNoCommandLeavesCardOpen(t *testing.T) {
	kinds := []struct {
		name    string
		profile vcard.Profile
		quirks  []vcard.Quirk
	}{
		{"yubikey", vcard.ProfileYubiKey, nil},
		{"piv", vcard.ProfilePIV, nil},
		{"yubikey-hard", vcard.ProfileYubiKey, hardCaseQuirks},
		{"piv-hard", vcard.ProfilePIV, hardCaseQuirks},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			b := benchtest.Start(t, kind.profile, benchtest.WithQuirks(kind.quirks...))
			if b.Real() {
				t.Skip("card kinds of the virtual card")
			}
			c := newCLI(t)
			file := func(name, content string) string { return writeFile(t, c.dir, name, content+"\n", 0o600) }
			pin, newPIN, puk := file("pin", factoryPIN), file("new.pin", "24682468"), file("puk", factoryPUK)
			mk := file("mk.hex", hex.EncodeToString(piv.DefaultManagementKey()))
			yubiKey := kind.profile == vcard.ProfileYubiKey
			reader := []string{"--reader", b.Reader}

			// run runs one command, expecting success where the card kind allows it, and checks the
			// card from outside.
			run := func(ok bool, args ...string) result {
				t.Helper()
				args = append(args, reader...)
				r := c.run(args...)
				if ok && r.code != ExitOK {
					t.Fatalf("pivauth %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
				}
				if !ok && r.code == ExitOK {
					t.Errorf("pivauth %s succeeded on a %s card", strings.Join(args, " "), kind.name)
				}
				b.CheckNotLeftOpen(t, "pivauth "+strings.Join(args, " "))
				return r
			}

			run(true, "cards")
			var key setupKeyJSON
			r := run(yubiKey, "setup", "key", "--attestation-roots", benchRootsFile(t, b, c.dir), "--management-key-file", mk, "--output", "json")
			if yubiKey {
				decodeJSON(t, r, &key)
				run(true, "setup", "selfsign", "--pin-file", pin, "--management-key-file", mk, "--subject", "CN=left-open")
			}
			run(true, "setup", "csr", "--pin-file", pin, "--subject", "CN=left-open")
			block, _ := pem.Decode([]byte(run(true, "certs", "--output", "pem").stdout))
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			run(yubiKey, "setup", "import", "--management-key-file", mk, pemFile(t, c.dir, "issued.pem", issue(t, cert.PublicKey, "left-open")))
			block, _ = pem.Decode([]byte(run(true, "certs", "--output", "pem").stdout))
			if cert, err = x509.ParseCertificate(block.Bytes); err != nil {
				t.Fatal(err)
			}

			run(true, "pin", "change", "--pin-file", pin, "--new-pin-file", newPIN)
			run(true, "pin", "unblock", "--puk-file", puk, "--new-pin-file", pin)
			r = run(yubiKey, "pin", "retries", "--pin-file", pin, "--management-key-file", mk, "--pin-tries", "5", "--puk-tries", "4")
			if yubiKey {
				if st := c.pinStatus(b.Reader); st.PIN.RetriesTotal != 5 || st.PUK == nil || st.PUK.RetriesTotal != 4 {
					t.Errorf("after pin retries: %+v", st)
				}
				b.CheckNotLeftOpen(t, "pivauth pin status")
			}

			r = run(true, "assertion", "--pin-file", pin, "--client-id", "x", "--audience", "https://idp.example/token", "-v")
			if reset := strings.Contains(r.stderr, "card will be reset"); reset != (kind.quirks != nil) {
				t.Errorf("assertion -v: says the card is reset: %v, want %v\n%s", reset, kind.quirks != nil, r.stderr)
			}
			srv, err := entra.Start(entra.Options{Apps: []entra.App{{
				ClientID: "app-card", Certificates: []entra.Credential{{Cert: cert}},
				Roles: map[string][]string{"https://graph.microsoft.com": {"User.Read.All"}},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			entraCA := writeFile(t, c.dir, "entra-ca.pem", string(srv.CAPEM()), 0o644)
			run(true, "token", "--pin-file", pin, "--authority", srv.Authority(), "--client-id", "app-card", "--ca-file", entraCA, "--scope", graphDefault, "--no-cache")

			mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if len(r.TLS.PeerCertificates) == 0 {
					http.Error(w, "no client certificate", http.StatusUnauthorized)
				}
			}))
			mtls.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
			mtls.StartTLS()
			t.Cleanup(mtls.Close)
			serverCA := writeFile(t, c.dir, "server.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mtls.Certificate().Raw})), 0o644)
			run(true, "request", "--pin-file", pin, "--ca-file", serverCA, mtls.URL)

			// The agent signs: with the PIN the first client gave it, then with the PIN it holds.
			runtime := filepath.Join(c.dir, "run")
			if err := os.Mkdir(runtime, 0o700); err != nil {
				t.Fatal(err)
			}
			agentCLI := c.with("XDG_RUNTIME_DIR=" + runtime)
			startAgentProcess(t, agentCLI, filepath.Join(runtime, "pivauth", "agent.sock"))
			for _, client := range []*cli{agentCLI.with("PIVAUTH_PIN=" + factoryPIN), agentCLI} {
				r := client.run(append([]string{"assertion"}, append(reader, "--client-id", "x", "--audience", "https://idp.example/token")...)...)
				if r.code != ExitOK {
					t.Fatalf("assertion through the agent: exit %d\n%s", r.code, r.stderr)
				}
				b.CheckNotLeftOpen(t, "a signature by the agent")
			}

			// Card management last: a random management key kept under the PIN, then a slot deleted
			// with it, then the PIV application reset (through the agent's environment, which is told
			// to let the card go).
			run(yubiKey, "setup", "management-key", "--pin-file", pin, "--management-key-file", mk)
			run(yubiKey, "setup", "delete", "--slot", "9c", "--pin-file", pin)
			r = agentCLI.run(append([]string{"reset", "--yes"}, reader...)...)
			if (r.code == ExitOK) != yubiKey {
				t.Errorf("pivauth reset --yes on a %s card: exit %d\n%s", kind.name, r.code, r.stderr)
			}
			b.CheckNotLeftOpen(t, "pivauth reset --yes")
		})
	}
}
