//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// doctorJSON runs `pivauth doctor --output json` with args, expects exit code want and returns
// the report.
func doctorJSON(t *testing.T, c *cli, want int, args ...string) doctorReport {
	t.Helper()
	r := c.run(append([]string{"doctor", "--output", "json"}, args...)...)
	if r.code != want {
		t.Fatalf("pivauth doctor %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, want, r.stdout, r.stderr)
	}
	var rep doctorReport
	decodeJSON(t, r, &rep)
	if rep.OK != (want == ExitOK) {
		t.Errorf("doctor: ok %v with exit %d", rep.OK, r.code)
	}
	return rep
}

// newDoctorCLI is newCLI with a runtime directory of the test's own, so that the agent check
// looks for an agent at a socket no other test or session uses.
func newDoctorCLI(t *testing.T) *cli {
	return newCLI(t).with("XDG_RUNTIME_DIR=" + t.TempDir())
}

// find returns the checks named check (and in slot, when given).
func (r doctorReport) find(check, slot string) []doctorCheck {
	var out []doctorCheck
	for _, c := range r.Checks {
		if c.Check == check && (slot == "" || c.Slot == slot) {
			out = append(out, c)
		}
	}
	return out
}

// one returns the only check named check (in slot), failing the test otherwise.
func (r doctorReport) one(t *testing.T, check, slot string) doctorCheck {
	t.Helper()
	cs := r.find(check, slot)
	if len(cs) != 1 {
		t.Fatalf("doctor: %d %q checks (slot %q), want 1: %+v", len(cs), check, slot, r.Checks)
	}
	return cs[0]
}

// TestDoctorNoPCSCD: pcsc-lite aimed at a socket nobody serves (the bench's pcscd keeps running
// for the other tests): a ✗ for pcscd that says how to start it, with and without systemd, and no
// card checks after it; likewise for a socket file left behind by a pcscd that is gone.
func TestDoctorNoPCSCD(t *testing.T) {
	c := newDoctorCLI(t).with("PCSCLITE_CSOCK_NAME=" + filepath.Join(t.TempDir(), "no-pcscd.comm"))
	rep := doctorJSON(t, c, ExitError)
	p := rep.one(t, "pcscd", "")
	if p.Status != checkFail || !strings.Contains(p.Message, "not running") ||
		!strings.Contains(p.Fix, "systemctl enable --now pcscd.socket") || !strings.Contains(p.Fix, "sudo pcscd") {
		t.Errorf("pcscd check: %+v", p)
	}
	if len(rep.find("card", "")) != 0 || len(rep.find("readers", "")) != 0 {
		t.Errorf("card checks without pcscd: %+v", rep.Checks)
	}
	if a := rep.one(t, "agent", ""); a.Status != checkOK || !strings.Contains(a.Message, "not running") {
		t.Errorf("agent check: %+v", a)
	}

	r := c.fails(ExitError, []string{"doctor: 1 of"}, "doctor")
	if !strings.Contains(r.stdout, "✗ pcscd") || !strings.Contains(r.stdout, "— start it: sudo systemctl enable --now pcscd.socket") {
		t.Errorf("doctor text output:\n%s", r.stdout)
	}

	// A socket file nobody listens on (pcscd killed): said, with both likely causes.
	stale := filepath.Join(t.TempDir(), "pcscd.comm")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	p = doctorJSON(t, newDoctorCLI(t).with("PCSCLITE_CSOCK_NAME="+stale), ExitError).one(t, "pcscd", "")
	if p.Status != checkFail || !strings.Contains(p.Message, "although the socket exists") || !strings.Contains(p.Fix, "polkit") {
		t.Errorf("pcscd check with a stale socket: %+v", p)
	}
}

// TestDoctorPolkitRefused: pcscd's polkit check closes the connection of an unauthorized client
// without answering its first message ("Rejected unauthorized PC/SC client"). A socket that does
// the same makes libpcsclite answer as it does under polkit; doctor says so and how to allow the
// user.
func TestDoctorPolkitRefused(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pcscd.comm")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// pcscd decides while the client's CMD_VERSION message (an 8-byte header and a
			// 12-byte body) is on its way; polkit's D-Bus round trip makes the message arrive first.
			buf := make([]byte, 20)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.ReadFull(conn, buf)
			conn.Close()
		}
	}()
	c := newDoctorCLI(t).with("PCSCLITE_CSOCK_NAME=" + sock)
	p := doctorJSON(t, c, ExitError).one(t, "pcscd", "")
	if p.Status != checkFail || !strings.Contains(p.Message, "polkit") || !strings.Contains(p.Fix, "org.debian.pcsc-lite.access_pcsc") {
		t.Errorf("pcscd check under a polkit refusal: %+v", p)
	}
}

// TestDoctorNoCard: a bench reader with no card in it, chosen with --reader.
func TestDoctorNoCard(t *testing.T) {
	_, reader := benchtest.Reader(t)
	rep := doctorJSON(t, newDoctorCLI(t), ExitError, "--reader", reader)
	if p := rep.one(t, "pcscd", ""); p.Status != checkOK {
		t.Errorf("pcscd check: %+v", p)
	}
	card := rep.one(t, "card", "")
	if card.Status != checkFail || !strings.Contains(card.Message, "no card") || !strings.Contains(card.Fix, "insert the card") {
		t.Errorf("card check: %+v", card)
	}
}

// TestDoctorBenchCard: the government-style bench card through a profile in a 0600 configuration
// file: every check ✓, exit 0, and the card's PIN tries read without a PIN presented or a key used.
// The same file open to other users is a ✗.
func TestDoctorBenchCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	runtimeDir := t.TempDir()
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtimeDir)
	cfg := writeFile(t, c.dir, "config/pivauth/config.json",
		`{"profiles": {"bench": {"reader": "`+b.Reader+`", "slot": "9a"}}}`, 0o600)
	b.ResetStats()
	rep := doctorJSON(t, c, ExitOK, "--profile", "bench")
	for _, ch := range rep.Checks {
		if ch.Status != checkOK {
			t.Errorf("check not ok on the bench card: %+v", ch)
		}
	}
	if rep.Profile != "bench" || rep.Slot != "9a" {
		t.Errorf("report profile %q slot %q", rep.Profile, rep.Slot)
	}
	if cf := rep.one(t, "config", ""); !strings.Contains(cf.Message, cfg) || !strings.Contains(cf.Message, `profile "bench"`) {
		t.Errorf("config check: %+v", cf)
	}
	if card := rep.one(t, "card", ""); card.Reader != b.Reader || !strings.Contains(card.Message, "PIV card, GUID") {
		t.Errorf("card check: %+v", card)
	}
	for _, slot := range []string{"9a", "9c", "9d", "9e"} {
		if cert := rep.one(t, "certificate", slot); !strings.Contains(cert.Message, "expires") {
			t.Errorf("slot %s: %+v", slot, cert)
		}
	}
	if pin := rep.one(t, "pin", ""); pin.Message != "PIN: 3 tries left" {
		t.Errorf("pin check: %+v", pin)
	}
	if st := b.Stats(); st.PINVerifies != 0 || st.Signatures != 0 {
		t.Errorf("doctor presented %d PINs and made %d signatures, want none", st.PINVerifies, st.Signatures)
	}
	if sw := b.PINStatusFromOutside(t); sw != 0x63C3 {
		t.Errorf("PIN status after doctor: %04X, want 63C3 (3 tries, not verified)", sw)
	}

	r := c.ok("doctor", "--profile", "bench")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "✓ ") {
			t.Errorf("doctor line not ✓: %q", l)
		}
	}
	if want := `pivauth can work with profile "bench" (slot 9a).`; lines[len(lines)-1] != want {
		t.Errorf("doctor summary %q, want %q", lines[len(lines)-1], want)
	}

	// The agent's state, once one runs (as the systemd user unit starts it).
	agentCmd, _, _ := startAgentProcess(t, c, filepath.Join(runtimeDir, "pivauth", "agent.sock"))
	ag := doctorJSON(t, c, ExitOK, "--profile", "bench").one(t, "agent", "")
	if ag.Status != checkOK || !strings.Contains(ag.Message, fmt.Sprintf("running (pid %d, locked", agentCmd.Process.Pid)) {
		t.Errorf("agent check with an agent running: %+v", ag)
	}

	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	cf := doctorJSON(t, c, ExitError, "--profile", "bench").one(t, "config", "")
	if cf.Status != checkFail || !strings.Contains(cf.Message, "chmod go-w "+cfg) {
		t.Errorf("config check of a world-writable file: %+v", cf)
	}
}

// TestDoctorExpiringCertificate: a YubiKey whose 9a certificate expires in 10 days and that still
// has its factory PIN, PUK and management key: warnings with their fixes, exit 0; asked about slot
// 9c, which holds nothing, a ✗.
func TestDoctorExpiringCertificate(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newDoctorCLI(t)
	c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "eccp256", "--attestation-roots", benchRootsFile(t, b, c.dir))
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=short-lived", "--days", "10")

	rep := doctorJSON(t, c, ExitOK, "--reader", b.Reader)
	cert := rep.one(t, "certificate", "9a")
	if cert.Status != checkWarn || !strings.Contains(cert.Message, "CN=short-lived expires in 10 days") || !strings.Contains(cert.Fix, "renew") {
		t.Errorf("9a check: %+v", cert)
	}
	for _, check := range []string{"pin", "puk", "management_key"} {
		if ch := rep.one(t, check, ""); ch.Status != checkWarn || !strings.Contains(ch.Message, "factory default") || ch.Fix == "" {
			t.Errorf("%s check on a factory-default YubiKey: %+v", check, ch)
		}
	}
	if pin := rep.one(t, "pin", ""); !strings.HasPrefix(pin.Message, "PIN: 3 of 3 tries left") {
		t.Errorf("pin check: %+v", pin)
	}
	if card := rep.one(t, "card", ""); card.Status != checkOK || !strings.Contains(card.Message, "YubiKey") {
		t.Errorf("card check: %+v", card)
	}
	r := c.ok("doctor", "--reader", b.Reader)
	if !strings.Contains(r.stdout, "! slot 9a") || !strings.Contains(r.stdout, "expires in 10 days") ||
		!strings.Contains(r.stdout, "! management key ") || !strings.HasSuffix(r.stdout, "pivauth can work (slot 9a); 4 warning(s) (!).\n") {
		t.Errorf("doctor text:\n%s", r.stdout)
	}

	nine := doctorJSON(t, c, ExitError, "--reader", b.Reader, "--slot", "9c")
	if ch := nine.one(t, "certificate", "9c"); ch.Status != checkFail || !strings.Contains(ch.Fix, "pivauth setup key") {
		t.Errorf("9c check: %+v", ch)
	}
	if ch := nine.one(t, "certificate", "9a"); ch.Status != checkWarn {
		t.Errorf("9a check when signing with 9c: %+v", ch)
	}
}

// TestDoctorClock: a profile naming an identity provider whose Date header is 10 minutes ahead
// fails the clock check; one whose clock agrees passes it. (pcscd is aimed elsewhere: the clock
// check does not need a card.)
func TestDoctorClock(t *testing.T) {
	var offset atomic.Int64
	offset.Store(int64(10 * time.Minute))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", time.Now().Add(time.Duration(offset.Load())).UTC().Format(http.TimeFormat))
	}))
	t.Cleanup(srv.Close)
	c := newDoctorCLI(t).with("PCSCLITE_CSOCK_NAME=" + filepath.Join(t.TempDir(), "no-pcscd.comm"))
	writeFile(t, c.dir, "config/pivauth/config.json", `{"profiles": {"idp": {"issuer": "`+srv.URL+`", "client_id": "x"}}}`, 0o600)

	clock := doctorJSON(t, c, ExitError, "--profile", "idp").one(t, "clock", "")
	if clock.Status != checkFail || !strings.Contains(clock.Message, "behind") || !strings.Contains(clock.Fix, "timedatectl") {
		t.Errorf("clock check 10 minutes off: %+v", clock)
	}
	offset.Store(0)
	clock = doctorJSON(t, c, ExitError, "--profile", "idp").one(t, "clock", "")
	if clock.Status != checkOK || !strings.Contains(clock.Message, "within") {
		t.Errorf("clock check in agreement: %+v", clock)
	}
	// No identity provider named: no clock check.
	if cs := doctorJSON(t, c, ExitError).find("clock", ""); len(cs) != 0 {
		t.Errorf("clock check without a profile: %+v", cs)
	}
}
