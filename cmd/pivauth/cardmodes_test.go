//go:build linux

package main

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/piv"
)

// coldAssertionBounds are upper bounds on what a cold `pivauth assertion` (a new process, the
// PIN from a file, RSA-2048 in 9A of a piv-profile card) sends each card mode, as BENCHMARKS.md
// records them: APDUs in all and GET DATA / GET RESPONSE among them, for the first process on the
// machine (the card cache empty) and for every later one (the card's identity and the key's PIN
// policy from the cache). A mode without an entry has its counts logged, not checked.
var coldAssertionBounds = map[string]struct{ first, cached coldCounts }{
	"javacard":        {coldCounts{8, 2, 0}, coldCounts{6, 1, 0}},
	"short-only":      {coldCounts{14, 3, 4}, coldCounts{12, 2, 4}},
	"ext-unannounced": {coldCounts{8, 2, 0}, coldCounts{6, 1, 0}},
	"five-pin-tries":  {coldCounts{8, 2, 0}, coldCounts{6, 1, 0}},
	"yubico-applet":   {coldCounts{8, 2, 0}, coldCounts{6, 1, 0}},
}

// coldCounts are APDUs in all, GET DATA and GET RESPONSE.
type coldCounts struct{ apdus, getData, getResponse int }

// checkColdAssertion runs a cold assertion with the PIN file and checks its counts against want.
func checkColdAssertion(t *testing.T, b *benchtest.Bench, c *cli, args []string, cert *x509.Certificate, what string, want coldCounts, check bool) {
	t.Helper()
	b.ResetStats()
	var aj assertionJSON
	decodeJSON(t, c.ok(args...), &aj)
	checkPS256(t, aj.Assertion, cert)
	st := b.Stats()
	t.Logf("%s cold assertion: %d APDUs %v", what, st.APDUs, st.Instructions)
	if check && (st.APDUs > want.apdus || st.Instructions["CB"] > want.getData || st.Instructions["C0"] > want.getResponse) {
		t.Errorf("%s cold assertion: %d APDUs, %d GET DATA, %d GET RESPONSE; want at most %d, %d, %d",
			what, st.APDUs, st.Instructions["CB"], st.Instructions["C0"], want.apdus, want.getData, want.getResponse)
	}
	if st.Signatures != 1 || st.PINVerifies != 1 {
		t.Errorf("%s cold assertion: %d signatures, %d PINs", what, st.Signatures, st.PINVerifies)
	}
}

// TestCLICardModes runs the commands of issue 14's list on each kind of card of
// benchtest.CardModes: cards, certs, a cold assertion (APDUs counted), token from the Entra
// stand-in and from the OpenID provider, request over TLS 1.2 and 1.3, a wrong PIN (the card's
// own tries left), setup key/csr/selfsign on a YubiKey of the mode, and the agent. The
// providers start once; each mode attaches the same card states with its quirks.
func TestCLICardModes(t *testing.T) {
	pivState := filepath.Join(t.TempDir(), "piv.json")
	ykState := filepath.Join(t.TempDir(), "yubikey.json")
	var cert *x509.Certificate
	var ca *x509.Certificate
	t.Run("issue", func(t *testing.T) {
		b := benchtest.Start(t, vcard.ProfilePIV, benchtest.WithState(pivState))
		if b.Real() || b.CA == nil {
			t.Skip("card modes are virtual cards")
		}
		benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(ykState))
		block, _ := pem.Decode([]byte(newCLI(t).ok("certs", "--reader", b.Reader, "--output", "pem").stdout))
		var err error
		if cert, err = x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatal(err)
		}
		ca = b.CA.Cert
	})
	if cert == nil {
		t.SkipNow()
	}
	e := startEntra(t, cert)
	idp := oidctest.Start(t, oidctest.Config{
		Clients:   []oidctest.Client{oidctest.PrivateKeyJWT("pkjwt", cert), oidctest.TLSClientAuth("tls", cert).Bound()},
		ClientCAs: []*x509.Certificate{ca},
		Resources: map[string]string{apiIndicator: "api:read"},
	})
	nginx := map[string]*tlstest.Nginx{}
	for _, v := range []string{"TLSv1.2", "TLSv1.3"} {
		nginx[v] = tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{ca}, Protocols: []string{v}})
	}

	for _, m := range benchtest.CardModes {
		t.Run(m.Name, func(t *testing.T) {
			b := benchtest.Start(t, vcard.ProfilePIV, benchtest.WithState(pivState), m.Option())
			yk := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(ykState), m.Option())
			c := newCLI(t)
			pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
			entraCA := writeFile(t, c.dir, "entra-ca.pem", string(e.srv.CAPEM()), 0o644)
			idpCA := writeFile(t, c.dir, "oidc-ca.pem", string(tlstest.PEM(idp.CA.Cert)), 0o644)
			entraArgs := func(cmd string, extra ...string) []string {
				return append([]string{cmd, "--reader", b.Reader, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", entraCA}, extra...)
			}

			// cards and certs.
			var list cardsJSON
			decodeJSON(t, c.ok("cards", "--output", "json"), &list)
			kinds := map[string]string{}
			for _, r := range list.Readers {
				if r.Card != nil {
					kinds[r.Reader] = r.Card.Kind
				}
			}
			if kinds[b.Reader] != "piv" || kinds[yk.Reader] != m.YubiKeyProfileKind() {
				t.Errorf("cards: %q is %q, %q is %q; want piv and %s", b.Reader, kinds[b.Reader], yk.Reader, kinds[yk.Reader], m.YubiKeyProfileKind())
			}
			if out := c.ok("cards", "--reader", b.Reader).stdout; !strings.Contains(out, "PIV card") || !strings.Contains(out, "slot 9a") {
				t.Errorf("cards --reader:\n%s", out)
			}
			block, _ := pem.Decode([]byte(c.ok("certs", "--reader", b.Reader, "--output", "pem").stdout))
			if block == nil || !strings.EqualFold(hex.EncodeToString(block.Bytes), hex.EncodeToString(cert.Raw)) {
				t.Errorf("certs --output pem does not give the 9A certificate")
			}

			// A cold assertion, counted: the first on this machine, then a later one.
			want, check := coldAssertionBounds[m.Name]
			args := entraArgs("assertion", "--pin-file", pin, "--output", "json")
			checkColdAssertion(t, b, c, args, cert, "first", want.first, check)
			checkColdAssertion(t, b, c, args, cert, "later", want.cached, check)

			// Tokens: the Entra stand-in, then the OpenID provider with private_key_jwt and with
			// tls_client_auth (a certificate-bound token).
			if claims := jwtClaims(t, c.ok(entraArgs("token", "--pin-file", pin, "--scope", graphDefault, "--no-cache")...).stdout); claims["appid"] != e.clientID {
				t.Errorf("Entra token claims %v", claims)
			}
			oidcArgs := func(client string, extra ...string) []string {
				return append([]string{"token", "--reader", b.Reader, "--pin-file", pin, "--issuer", idp.Issuer, "--client-id", client, "--ca-file", idpCA,
					"--resource", apiIndicator, "--scope", "api:read", "--no-cache"}, extra...)
			}
			if claims := jwtClaims(t, c.ok(oidcArgs("pkjwt")...).stdout); claims["client_id"] != "pkjwt" {
				t.Errorf("private_key_jwt token claims %v", claims)
			}
			claims := jwtClaims(t, c.ok(oidcArgs("tls", "--client-auth", "tls_client_auth")...).stdout)
			if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != x5tS256(cert) {
				t.Errorf("tls_client_auth token not bound to the card's certificate: %v", claims)
			}

			// mTLS with each TLS version.
			for v, ngx := range nginx {
				ngxCA := writeFile(t, c.dir, v+"-ca.pem", string(tlstest.PEM(ngx.CA.Cert)), 0o644)
				out := c.ok("request", "--reader", b.Reader, "--pin-file", pin, "--ca-file", ngxCA, ngx.URL+"/v1/status").stdout
				if !strings.Contains(out, "verify=SUCCESS") || !strings.Contains(out, "protocol="+v) {
					t.Errorf("request over %s: nginx answered %q", v, out)
				}
			}

			// A wrong PIN says the card's own tries left; the right one restores them.
			wrong := writeFile(t, c.dir, "wrong-pin", "000000\n", 0o600)
			c.fails(ExitPIN, []string{fmt.Sprintf("%d tries left", m.PINTries()-1)}, entraArgs("assertion", "--pin-file", wrong)...)
			c.ok(entraArgs("assertion", "--pin-file", pin)...)

			// setup on a YubiKey of the mode: key (attested), CSR, self-signed certificate.
			mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
			setupKey := []string{"setup", "key", "--force", "--reader", yk.Reader, "--algorithm", "eccp256", "--attestation-roots", benchRootsFile(t, yk, c.dir), "--management-key-file", mk}
			if m.StrictAttestation() {
				c.ok(setupKey...)
			} else {
				// The key is generated and in the slot; its lax-DER attestation is not verified.
				c.fails(ExitUnattested, []string{"the key was generated and is in slot 9a", "not a valid DER certificate"}, setupKey...)
			}
			block, _ = pem.Decode([]byte(c.ok("setup", "csr", "--reader", yk.Reader, "--pin-file", pin, "--subject", "CN="+m.Name).stdout))
			if csr, err := x509.ParseCertificateRequest(block.Bytes); err != nil || csr.CheckSignature() != nil {
				t.Errorf("setup csr: %v", err)
			}
			cer := filepath.Join(c.dir, "self.cer")
			c.ok("setup", "selfsign", "--reader", yk.Reader, "--pin-file", pin, "--management-key-file", mk, "--subject", "CN="+m.Name, "--cer", cer)
			der, err := os.ReadFile(cer)
			if err != nil {
				t.Fatal(err)
			}
			self, err := x509.ParseCertificate(der)
			if err == nil {
				err = self.CheckSignature(self.SignatureAlgorithm, self.RawTBSCertificate, self.Signature)
			}
			if err != nil {
				t.Errorf("setup selfsign: %v", err)
			}
			if out := c.ok("certs", "--reader", yk.Reader).stdout; !strings.Contains(out, "CN="+m.Name) {
				t.Errorf("certs after selfsign:\n%s", out)
			}

			// The agent: the PIN from a file once, then commands without one.
			runtime := filepath.Join(c.dir, "run")
			if err := os.Mkdir(runtime, 0o700); err != nil {
				t.Fatal(err)
			}
			ac := c.with("XDG_RUNTIME_DIR=" + runtime)
			startAgentProcess(t, ac, filepath.Join(runtime, "pivauth", "agent.sock"))
			ac.ok(entraArgs("assertion", "--pin-file", pin)...)
			b.ResetStats()
			if claims := jwtClaims(t, ac.ok(entraArgs("token", "--scope", graphDefault, "--no-cache")...).stdout); claims["appid"] != e.clientID {
				t.Errorf("token through the agent: %v", claims)
			}
			if st := b.Stats(); st.Signatures != 1 {
				t.Errorf("token through the agent: %d signatures", st.Signatures)
			}
			notVerified(t, b, "the agent's token")
		})
	}
}

// TestCardsNotPIV: a card in the reader that does not answer as a PIV card is listed as present
// with its SELECT status word and meaning; commands fail with exit 3 and say the same, never
// "no card found".
func TestCardsNotPIV(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV, benchtest.WithFlaky(vpcd.Flaky{Rate: 1, SW: 0x6986}))
	if b.Real() {
		t.Skip("needs a card answering every command with 6986")
	}
	c := newCLI(t)
	want := fmt.Sprintf("the card in reader %q does not answer as a PIV card: SELECT answered 6986 (command not allowed)", b.Reader)
	out := c.ok("cards").stdout
	if i := strings.Index(out, b.Reader+"\n"); i < 0 || !strings.HasPrefix(out[i+len(b.Reader)+1:], "  card present, not usable: "+want) {
		t.Errorf("cards:\n%s", out)
	}
	var list cardsJSON
	decodeJSON(t, c.ok("cards", "--output", "json"), &list)
	for _, r := range list.Readers {
		if r.Reader == b.Reader && (!r.CardPresent || r.Card != nil || r.Error != want) {
			t.Errorf("cards --output json: %+v", r)
		}
	}
	for _, args := range [][]string{{"certs", "--reader", b.Reader}, {"cards", "--reader", b.Reader}} {
		r := c.fails(ExitNoCard, []string{want}, args...)
		if strings.Contains(r.stderr, "no card found") || strings.Contains(r.stderr, "no matching smart card") {
			t.Errorf("pivauth %s says there is no card:\n%s", strings.Join(args, " "), r.stderr)
		}
	}
}

// TestColdAssertionYubiKey: issue 13's targets for a cold `pivauth assertion` on a YubiKey with a
// PIN-protected RSA-2048 key in 9A and the PIN from a file: at most 8 APDUs the first time on the
// machine, 6 every later time (the card cache), 5 with --allow-last-try; the later runs' audit
// records name the card from the cache and say so.
func TestColdAssertionYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() || b.CA == nil {
		t.Skip("counts the virtual card's APDUs")
	}
	c := newCLI(t)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
	c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "rsa2048", "--pin-policy", "once", "--attestation-roots", benchRootsFile(t, b, c.dir), "--management-key-file", mk)
	c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--management-key-file", mk, "--subject", "CN=cold", "--cer", filepath.Join(c.dir, "9a.cer"))
	if err := os.RemoveAll(filepath.Join(c.dir, "cache", "pivauth", "cards")); err != nil { // selfsign signed with the key
		t.Fatal(err)
	}
	args := []string{"assertion", "--reader", b.Reader, "--pin-file", pin, "--tenant", "t", "--client-id", "c"}
	for _, run := range []struct {
		what  string
		extra []string
		max   int
	}{{"first", nil, 8}, {"later", nil, 6}, {"later with --allow-last-try", []string{"--allow-last-try"}, 5}} {
		b.ResetStats()
		c.ok(append(args, run.extra...)...)
		if st := b.Stats(); st.APDUs > run.max || st.Signatures != 1 || st.PINVerifies != 1 {
			t.Errorf("%s cold assertion: %d APDUs %v, %d signatures, %d PINs; want at most %d, 1, 1", run.what, st.APDUs, st.Instructions, st.Signatures, st.PINVerifies, run.max)
		}
	}
	var cached []bool
	for _, ev := range auditEvents(t, c) {
		if ev.Operation == audit.OpSign && ev.Purpose.Command == "assertion" {
			cached = append(cached, ev.CardCached)
			if !strings.HasPrefix(ev.Card, "serial:") {
				t.Errorf("audit record names the card %q, want its serial", ev.Card)
			}
		}
	}
	if fmt.Sprint(cached) != "[false true true]" {
		t.Errorf("audit records' card_cached %v, want [false true true]", cached)
	}
}
