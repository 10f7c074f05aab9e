//go:build linux

package main

import (
	"bytes"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/signer/purpose"
)

// notVerified fails the test unless the card answers an outsider's empty VERIFY with 63Cx.
func notVerified(t *testing.T, b *benchtest.Bench, after string) {
	t.Helper()
	if sw := b.PINStatusFromOutside(t); sw&0xFFF0 != 0x63C0 {
		t.Fatalf("after %s an empty VERIFY from another PC/SC context got %04X, want 63Cx (card left verified)", after, sw)
	}
}

// auditEvents runs `pivauth audit --output json`.
func auditEvents(t *testing.T, c *cli) []audit.Event {
	t.Helper()
	var evs []audit.Event
	decodeJSON(t, c.ok("audit", "--output", "json"), &evs)
	return evs
}

// noSecretUnder fails the test if a file under dir holds one of the secrets.
func noSecretUnder(t *testing.T, dir string, secrets map[string]string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds the %s", path, name)
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// TestAgentServesCommands is the issue's acceptance test through the built binary: with `pivauth
// agent` running, the PIN is typed once at the first command's prompt; later token, assertion and
// request commands, separate processes with no PIN source at all, sign through the agent; the card
// verifies the PIN and clears it inside each signature's transaction, so another program never
// finds it verified; tokens stay in the agent's memory, not on disk. Every card operation is in the
// audit log with the command's purpose (token endpoint, client id and jti; the TLS server), and no
// file holds the PIN or a token. Once the agent is gone, the same commands use the card directly,
// audited as well, and need a PIN source of their own again.
func TestAgentServesCommands(t *testing.T) {
	e := startEntraBench(t)
	b := e.b
	if b.Real() {
		t.Skip("counts the card's APDUs: virtual card only")
	}
	if b.CA == nil {
		t.Skip("needs the bench CA for the mTLS server")
	}
	ngx := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{b.CA.Cert}})
	runtime := filepath.Join(e.c.dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := e.c.with("XDG_RUNTIME_DIR=" + runtime)
	nginxCA := writeFile(t, c.dir, "nginx-ca.pem", string(tlstest.PEM(ngx.CA.Cert)), 0o644)
	// The flags name the card and the provider, never a PIN source.
	entraArgs := func(cmd string, extra ...string) []string {
		return append([]string{cmd, "--reader", b.Reader, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", e.ca}, extra...)
	}
	requestArgs := []string{"request", "--reader", b.Reader, "--ca-file", nginxCA, ngx.URL + "/v1/status"}

	agentProc, agentLog, exited := startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	b.ResetStats()

	// The PIN, typed once at the first command's own prompt.
	s := startTmux(t, c, entraArgs("assertion")...)
	s.waitFor("PIN for PIV card of Bench User ("+benchUPN+"), slot 9a (3 tries left):", 1)
	s.typeLine(factoryPIN)
	if scr := s.waitFor("EXIT=", 1); !strings.Contains(scr, "EXIT=0") || strings.Contains(scr, factoryPIN) {
		t.Fatalf("first command:\n%s", scr)
	}
	notVerified(t, b, "the first command")

	// From here on: no terminal, no --pin-file, no PIVAUTH_PIN. Each signature costs the card one
	// VERIFY with the PIN, one GENERAL AUTHENTICATE and one VERIFY that clears the PIN status;
	// each outsider's check one empty VERIFY.
	b.ResetStats()
	var tj tokenJSON
	decodeJSON(t, c.ok(entraArgs("token", "--scope", graphDefault, "--output", "json")...), &tj)
	if tj.Cached || jwtClaims(t, tj.AccessToken)["appid"] != e.clientID || tj.Reader != b.Reader || tj.Slot != "9a" {
		t.Errorf("token through the agent: %+v", tj)
	}
	notVerified(t, b, "the token")
	var again tokenJSON
	decodeJSON(t, c.ok(entraArgs("token", "--scope", graphDefault, "--output", "json")...), &again)
	if !again.Cached || again.AccessToken != tj.AccessToken {
		t.Errorf("second token not from the agent's memory: cached=%v, same=%v", again.Cached, again.AccessToken == tj.AccessToken)
	}
	var aj assertionJSON
	decodeJSON(t, c.ok(entraArgs("assertion", "--output", "json")...), &aj)
	jti, _ := jwtClaims(t, aj.Assertion)["jti"].(string)
	notVerified(t, b, "the assertion")
	if r := c.ok(requestArgs...); !strings.Contains(r.stdout, "verify=SUCCESS") {
		t.Errorf("request through the agent: nginx answered %q", r.stdout)
	}
	notVerified(t, b, "the request")
	const signatures, outsiders = 3, 3
	st := b.Stats()
	if st.Signatures != signatures || st.PINVerifies != signatures || st.Instructions["87"] != signatures ||
		st.Instructions["20"] != 2*signatures+outsiders {
		t.Errorf("card: %d signatures, %d PIN verifications, %d GENERAL AUTHENTICATE, %d VERIFY; want %d, %d, %d and %d",
			st.Signatures, st.PINVerifies, st.Instructions["87"], st.Instructions["20"], signatures, signatures, signatures, 2*signatures+outsiders)
	}

	var status agentStatusJSON
	decodeJSON(t, c.ok("agent", "status", "--output", "json"), &status)
	if !status.Running || status.Locked || len(status.Keys) != 1 || status.Keys[0].Reader != b.Reader || status.Tokens != 1 {
		t.Errorf("agent status %+v: want unlocked, one key in %s, one token", status, b.Reader)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.dir, "cache", "pivauth")); len(entries) != 0 {
		t.Errorf("with an agent running, the token cache on disk holds %d entries", len(entries))
	}

	// The token reads and the store of the two token commands are recorded too, with the profile.
	var evs, tokenEvs []audit.Event
	for _, ev := range auditEvents(t, c) {
		if ev.Operation == audit.OpTokenGet || ev.Operation == audit.OpTokenPut {
			tokenEvs = append(tokenEvs, ev)
		} else {
			evs = append(evs, ev)
		}
	}
	wantTokenOps := []string{"token-get not-cached", "token-put ok", "token-get ok"}
	if len(tokenEvs) != len(wantTokenOps) {
		t.Errorf("audit log has %d token events, want %d: %+v", len(tokenEvs), len(wantTokenOps), tokenEvs)
	}
	for i, ev := range tokenEvs {
		if i < len(wantTokenOps) && (string(ev.Operation)+" "+ev.Result != wantTokenOps[i] || ev.Purpose.Profile == "" ||
			ev.Requester == nil || ev.Requester.Executable != binary || ev.PID != agentProc.Process.Pid) {
			t.Errorf("token event %d: %+v (requester %+v); want %s for a profile, requested by %s", i, ev, ev.Requester, wantTokenOps[i], binary)
		}
	}
	endpoint := e.srv.TokenEndpoint()
	want := []struct {
		op      audit.Operation
		purpose purpose.Purpose
	}{
		{audit.OpSign, purpose.Purpose{Command: "assertion", TokenEndpoint: endpoint, ClientID: e.clientID, ClientDeclared: true}},
		{audit.OpSign, purpose.Purpose{Command: "token", TokenEndpoint: endpoint, ClientID: e.clientID, ClientDeclared: true}},
		{audit.OpSign, purpose.Purpose{Command: "assertion", TokenEndpoint: endpoint, ClientID: e.clientID, JTI: jti, ClientDeclared: true}},
		{audit.OpTLSHandshake, purpose.Purpose{Command: "request", ServerName: "127.0.0.1", ClientDeclared: true}},
	}
	if len(evs) != len(want) {
		t.Fatalf("audit log has %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if w.op == audit.OpSign && w.purpose.JTI == "" { // a jti we did not see: any, but one
			if ev.Purpose.JTI == "" {
				t.Errorf("event %d has no jti: %+v", i, ev)
			}
			ev.Purpose.JTI = ""
		}
		if ev.Operation != w.op || ev.Purpose != w.purpose || ev.Result != audit.ResultOK || ev.Slot != "9a" ||
			ev.Reader != b.Reader || !strings.HasPrefix(ev.Card, "guid:") || ev.CertSHA256 == "" ||
			ev.Requester == nil || ev.Requester.Command != "pivauth" || ev.Requester.Executable != binary || ev.PID != agentProc.Process.Pid {
			t.Errorf("event %d: %+v (requester %+v); want %s for %+v, performed by the agent for a pivauth process", i, evs[i], evs[i].Requester, w.op, w.purpose)
		}
	}

	// A last PIN try is the command's own decision: with --allow-last-try it uses the card
	// directly, so without a PIN source of its own it cannot sign.
	c.fails(ExitPIN, []string{"no PIN available"}, entraArgs("assertion", "--allow-last-try")...)

	// The agent goes; the commands use the card themselves, audited too, and a command without a
	// PIN source cannot sign any more.
	if err := agentProc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop on SIGTERM")
	}
	c.fails(ExitPIN, []string{"no PIN available"}, entraArgs("token", "--scope", graphDefault, "--no-cache")...)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	var direct tokenJSON
	decodeJSON(t, c.ok(entraArgs("token", "--pin-file", pin, "--scope", graphDefault, "--output", "json")...), &direct)
	if direct.Cached || direct.AccessToken == tj.AccessToken {
		t.Errorf("without the agent the token came from a cache: %+v", direct)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.dir, "cache", "pivauth")); len(entries) == 0 {
		t.Error("without an agent the token was not cached on disk")
	}
	c.ok(append(requestArgs, "--pin-file", pin)...)
	notVerified(t, b, "the direct commands")

	direct2 := auditEvents(t, c)[len(want)+len(tokenEvs):]
	wantDirect := []struct {
		op      audit.Operation
		command string
		result  string
	}{
		{audit.OpSign, "assertion", audit.ResultNoPIN},
		{audit.OpSign, "token", audit.ResultNoPIN},
		{audit.OpSign, "token", audit.ResultOK},
		{audit.OpTLSHandshake, "request", audit.ResultOK},
	}
	if len(direct2) != len(wantDirect) {
		t.Fatalf("direct use left %d audit events, want %d: %+v", len(direct2), len(wantDirect), direct2)
	}
	for i, w := range wantDirect {
		ev := direct2[i]
		if ev.Operation != w.op || ev.Purpose.Command != w.command || ev.Result != w.result || ev.Requester != nil ||
			ev.PID == 0 || ev.PID == agentProc.Process.Pid || !strings.HasPrefix(ev.Card, "guid:") || ev.Slot != "9a" {
			t.Errorf("direct event %d: %+v; want %s by %s (%s), performed by the command itself", i, ev, w.op, w.command, w.result)
		}
	}
	if p := direct2[2].Purpose; p.TokenEndpoint != endpoint || p.ClientID != e.clientID || p.JTI == "" {
		t.Errorf("direct token's purpose %+v", p)
	}
	if p := direct2[3].Purpose; p.ServerName != "127.0.0.1" {
		t.Errorf("direct request's purpose %+v", p)
	}

	secrets := map[string]string{"PIN": factoryPIN, "agent's token": tj.AccessToken, "direct token": direct.AccessToken, "assertion": aj.Assertion}
	noSecretUnder(t, filepath.Join(c.dir, "state"), secrets)
	noSecretUnder(t, runtime, secrets)
	for name, s := range secrets {
		if strings.Contains(agentLog.String(), s) {
			t.Errorf("the agent's log holds the %s", name)
		}
	}
}

// TestAgentChooseCard: with several cards and no selector, a command using the agent offers the
// same choice as one using the card itself (no terminal: exit 2 with the flag for each card; a
// terminal: asks), and the agent then serves the chosen card.
func TestAgentChooseCard(t *testing.T) {
	b1 := benchtest.Start(t, vcard.ProfilePIV)
	b2 := benchtest.Start(t, vcard.ProfilePIV)
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtime)
	guid := func(b *benchtest.Bench) string {
		var cards cardsJSON
		decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
		return cards.Readers[0].Card.GUID
	}
	g1, g2 := guid(b1), guid(b2)
	startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	args := []string{"assertion", "--client-id", "c", "--audience", "https://idp.example/token"}
	c.fails(ExitUsage, []string{"cards are present; choose one", "--guid " + g1, "--guid " + g2}, args...)

	s := startTmux(t, c, args...)
	scr := s.waitFor("Which card [1-", 1)
	choice := ""
	for _, line := range strings.Split(scr, "\n") {
		if strings.Contains(line, g2) {
			choice, _, _ = strings.Cut(strings.TrimSpace(line), ")")
		}
	}
	if choice == "" {
		t.Fatalf("card %s not offered:\n%s", g2, scr)
	}
	s.typeLine(choice)
	s.waitFor("PIN for PIV card of Bench User ("+benchUPN+"), slot 9a (3 tries left):", 1)
	s.typeLine(factoryPIN)
	s.waitFor("EXIT=0", 1)

	var status agentStatusJSON
	decodeJSON(t, c.ok("agent", "status", "--output", "json"), &status)
	if len(status.Keys) != 1 || status.Keys[0].Reader != b2.Reader || status.Keys[0].Card != "guid:"+g2 {
		t.Errorf("agent status %+v: want the chosen card's key only", status)
	}
}

// TestAgentLockoutGuard: through the agent, wrong PINs report the tries left and the lockout guard
// refuses the last try exactly as without it: exit code 4, the hint naming --allow-last-try (from
// the tries the agent sends, not from its text), and no PIN sent to the card; the audit log tells
// the guard's refusal from a blocked PIN.
func TestAgentLockoutGuard(t *testing.T) {
	e := startEntraBench(t)
	b := e.b
	if b.Real() {
		t.Skip("spends PIN tries and counts the card's VERIFYs: virtual card only")
	}
	runtime := filepath.Join(e.c.dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := e.c.with("XDG_RUNTIME_DIR=" + runtime)
	agentProc, _, _ := startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	wrong := writeFile(t, c.dir, "wrong.pin", "000000\n", 0o600)
	assertion := func(pinFile string) []string {
		return []string{"assertion", "--reader", b.Reader, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", e.ca, "--pin-file", pinFile}
	}
	const hint = "fix: run again with --allow-last-try, once sure of the PIN; or restore the tries with pivauth pin unblock"

	if r := c.fails(ExitPIN, []string{"PIN incorrect: 2 tries left"}, assertion(wrong)...); strings.Contains(r.stderr, hint) {
		t.Errorf("a wrong PIN with 2 tries left got the last-try hint:\n%s", r.stderr)
	}
	c.fails(ExitPIN, []string{"PIN incorrect: 1 try left", hint}, assertion(wrong)...)
	b.ResetStats()
	c.fails(ExitPIN, []string{"only 1 PIN try left before the PIN blocks: the lockout guard sent no PIN\n  " + hint}, assertion(e.pin)...)
	if n := b.Stats().PINVerifies; n != 0 {
		t.Errorf("the lockout guard let %d PIN verifications through the agent", n)
	}

	evs := auditEvents(t, c)
	wantResults := []string{audit.ResultPINIncorrect, audit.ResultPINIncorrect, audit.ResultPINLastTry}
	if len(evs) != len(wantResults) {
		t.Fatalf("audit log has %d events, want %d: %+v", len(evs), len(wantResults), evs)
	}
	for i, want := range wantResults {
		if evs[i].Result != want || evs[i].PID != agentProc.Process.Pid {
			t.Errorf("event %d: result %q by pid %d; want %q by the agent (pid %d)", i, evs[i].Result, evs[i].PID, want, agentProc.Process.Pid)
		}
	}
}
