// Package benchtest gives an integration test a PIV card on the real PC/SC
// stack: a fresh virtual card (hw-test/vcard) attached to a vpcd reader of
// its own, or, when PIVAUTH_TEST_READER names one, a real card.
//
//	b := benchtest.Start(t, vcard.ProfileYubiKey)
//	card, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
//
// Environment:
//
//	PIVAUTH_TEST_READER=NAME     run against the real card in reader NAME
//	PIVAUTH_TEST_PROFILE=P       what that card is: yubikey (default) or piv
//	PIVAUTH_TEST_DESTRUCTIVE=1   allow steps that change the real card
//	PIVAUTH_TEST_TRACE=1         log every APDU of virtual cards (PINs redacted)
//	PIVAUTH_BENCH_DIR=DIR        bench directory (locks, bench CA), as for hw-test/bench
package benchtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest/benchenv"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
)

// Bench is the card a test runs against.
type Bench struct {
	// Reader is the PC/SC reader name of the card.
	Reader string
	// Card is the virtual card, nil on a real card.
	Card *vcard.Card
	// CA is the bench CA that issued the piv profile's certificates and the
	// yubikey profile's attestation certificates; nil on a real card.
	CA *vcard.CA
	// Port is the vpcd port of the reader; 0 on a real card.
	Port int

	t      testing.TB
	attach *vpcd.Attachment
}

// Option changes how Start attaches a virtual card.
type Option func(*config)

type config struct {
	opts   vpcd.Options
	flaky  vpcd.Flaky
	state  string
	trace  bool
	quirks []vcard.Quirk
	// opTimes and apduTime: WithYubiKey5Timing.
	opTimes  vcard.OperationTimes
	apduTime time.Duration
}

// WithLatency delays every answer of the card.
func WithLatency(d time.Duration) Option { return func(c *config) { c.opts.Latency = d } }

// WithYubiKey5Timing makes the card as slow as a YubiKey 5: its private-key
// operations take vcard.YubiKey5Times and every APDU vcard.YubiKey5APDUTime
// (on top of WithLatency), for wall-time benchmarks. Tests count, they do not
// time: no test should need it.
func WithYubiKey5Timing() Option {
	return func(c *config) { c.opTimes = vcard.YubiKey5Times; c.apduTime = vcard.YubiKey5APDUTime }
}

// WithFlaky makes the connection fail now and then (see vpcd.Flaky).
func WithFlaky(f vpcd.Flaky) Option { return func(c *config) { c.flaky = f } }

// WithState opens the card from an existing state file instead of a new
// one in t.TempDir(), e.g. to attach the same card again.
func WithState(path string) Option { return func(c *config) { c.state = path } }

// WithQuirks gives the virtual card quirks of real cards (vcard.Quirk).
// On a real card it does nothing: the card is what it is.
func WithQuirks(qs ...vcard.Quirk) Option {
	return func(c *config) { c.quirks = append(c.quirks, qs...) }
}

// WithTrace logs every APDU through t.Log (PINs and keys redacted).
func WithTrace() Option { return func(c *config) { c.trace = true } }

// logWriter sends each trace line to t.Log.
type logWriter struct{ t testing.TB }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Timeouts for PC/SC to notice a card arriving or leaving: pcscd polls
// vpcd readers every 400 ms.
const (
	presentTimeout = 15 * time.Second
	absentTimeout  = 5 * time.Second
	// scriptTimeout bounds hw-test/bench up --no-card (it waits at most
	// seconds for pcscd's readers); past it the script is killed.
	scriptTimeout = time.Minute
	// busyTimeout is how long Start waits for a free reader when tests in
	// parallel hold all of them.
	busyTimeout = 2 * time.Minute
)

// Start attaches a fresh virtual card of the profile (new state file in
// t.TempDir()) to a free vpcd reader, waits until PC/SC reports it present,
// and detaches it in t.Cleanup. The card runs in the test process. Readers
// are taken with lock files in the bench directory, so parallel test
// binaries never share one.
//
// With PIVAUTH_TEST_READER set, Start returns that real card instead (and
// skips the test when PIVAUTH_TEST_PROFILE says the card is not of the
// profile). When pcscd or vpcd is not installed, Start fails the test with
// "run hw-test/bench install", or skips it under -short.
func Start(t testing.TB, profile vcard.Profile, opts ...Option) *Bench {
	t.Helper()
	if reader := os.Getenv("PIVAUTH_TEST_READER"); reader != "" {
		return startReal(t, reader, profile)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.trace || os.Getenv("PIVAUTH_TEST_TRACE") == "1" {
		cfg.opts.Trace = &logWriter{t: t}
	}
	dir := benchenv.Dir()
	ca, err := vcard.BenchCA(dir)
	if err != nil {
		t.Fatalf("bench CA: %v", err)
	}
	state := cfg.state
	if state == "" {
		state = filepath.Join(t.TempDir(), "card.json")
	}
	card, err := vcard.OpenWithCA(state, profile, ca)
	if err != nil {
		t.Fatalf("virtual card: %v", err)
	}
	if len(cfg.quirks) > 0 {
		if err := card.SetQuirks(cfg.quirks...); err != nil {
			t.Fatalf("virtual card: %v", err)
		}
	}
	card.SetOperationTimes(cfg.opTimes)
	cfg.opts.Latency += cfg.apduTime
	port, reader := Reader(t)
	b := &Bench{Reader: reader, Card: card, CA: ca, Port: port, t: t}
	b.attach = vpcd.Attach(card, port, cfg.opts)
	t.Cleanup(func() { b.attach.Close() })
	b.waitPresent()
	if cfg.flaky.Rate > 0 {
		// Only once the card is in: a flaky first contact would only delay
		// the start.
		b.attach.SetFlaky(cfg.flaky)
	}
	return b
}

// startReal returns the real card in reader.
func startReal(t testing.TB, reader string, profile vcard.Profile) *Bench {
	t.Helper()
	real := vcard.Profile(os.Getenv("PIVAUTH_TEST_PROFILE"))
	if real == "" {
		real = vcard.ProfileYubiKey
	}
	if real != profile {
		t.Skipf("test needs a %s card; the real card in %q is %s (PIVAUTH_TEST_PROFILE)", profile, reader, real)
	}
	ctx, cancel := context.WithTimeout(context.Background(), presentTimeout)
	defer cancel()
	if err := pcscstate.Wait(ctx, reader, true); err != nil {
		t.Fatalf("PIVAUTH_TEST_READER: %v", err)
	}
	return &Bench{Reader: reader, t: t}
}

// Real reports whether the test runs against a real card.
func (b *Bench) Real() bool { return b.Card == nil }

// virtual skips the test on a real card, for what only the virtual card
// can do.
func (b *Bench) virtual(what string) {
	b.t.Helper()
	if b.Real() {
		b.t.Skipf("%s needs the virtual card (PIVAUTH_TEST_READER is set)", what)
	}
}

// Destructive skips the test on a real card unless
// PIVAUTH_TEST_DESTRUCTIVE=1: call it before generating or importing keys,
// changing PINs or resetting the card.
func (b *Bench) Destructive() {
	b.t.Helper()
	if b.Real() && os.Getenv("PIVAUTH_TEST_DESTRUCTIVE") != "1" {
		b.t.Skipf("changes the card in %q: set PIVAUTH_TEST_DESTRUCTIVE=1 to allow it", b.Reader)
	}
}

// Stats returns the virtual card's counters (skips on a real card).
func (b *Bench) Stats() vcard.Stats {
	b.t.Helper()
	b.virtual("card statistics")
	return b.Card.Stats()
}

// ResetStats zeroes the virtual card's counters (skips on a real card).
func (b *Bench) ResetStats() {
	b.t.Helper()
	b.virtual("card statistics")
	b.Card.ResetStats()
}

// Pull removes the card and waits until PC/SC reports the reader empty.
func (b *Bench) Pull() {
	b.t.Helper()
	b.virtual("pulling the card")
	b.attach.Pull()
	ctx, cancel := context.WithTimeout(context.Background(), absentTimeout)
	defer cancel()
	if err := pcscstate.Wait(ctx, b.Reader, false); err != nil {
		b.t.Fatal(err)
	}
}

// Insert puts a pulled card back and waits until PC/SC reports it present.
// It first waits until PC/SC has noticed the removal (a PullDuring removal
// may be fresh), so the host sees the card leave and come back as with a
// real card.
func (b *Bench) Insert() {
	b.t.Helper()
	b.virtual("inserting the card")
	if !b.attach.Inserted() {
		ctx, cancel := context.WithTimeout(context.Background(), absentTimeout)
		defer cancel()
		if err := pcscstate.Wait(ctx, b.Reader, false); err != nil {
			b.t.Fatal(err)
		}
		b.attach.Insert()
	}
	b.waitPresent()
}

// PullDuring arms a removal in the middle of a command: the next command
// APDU with instruction ins never reaches the card, the card is pulled and
// the host's SCardTransmit fails. The card stays out until Insert.
func (b *Bench) PullDuring(ins byte) {
	b.t.Helper()
	b.virtual("pulling the card")
	b.attach.PullDuring(ins)
}

// Transport is the virtual card's connection to vpcd, for the faults
// Bench has no shortcut for (latency, flaky); nil on a real card.
func (b *Bench) Transport() *vpcd.Attachment { return b.attach }

func (b *Bench) waitPresent() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), presentTimeout)
	defer cancel()
	if err := pcscstate.Wait(ctx, b.Reader, true); err != nil {
		b.t.Fatalf("virtual card on port %d: %v (is the vpcd entry in pcscd's configuration? see hw-test/bench up)", b.Port, err)
	}
}

// Reader reserves a free vpcd reader for the test without attaching a card,
// for tests that attach one another way (the bench's card process). The
// reservation ends in t.Cleanup once PC/SC reports the reader empty. Like
// Start it makes sure pcscd runs with the bench's readers, failing (or
// skipping under -short) when the bench is not installed.
func Reader(t testing.TB) (port int, name string) {
	t.Helper()
	if err := ensurePCSCD(); err != nil {
		if testing.Short() && errors.Is(err, errNotInstalled) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	port, unlock, err := takeReader(benchenv.Dir())
	if err != nil {
		t.Fatal(err)
	}
	name = benchenv.ReaderName(port)
	t.Cleanup(func() {
		defer unlock()
		// The next test to take the reader must find it empty.
		ctx, cancel := context.WithTimeout(context.Background(), absentTimeout)
		defer cancel()
		if err := pcscstate.Wait(ctx, name, false); err != nil {
			t.Errorf("detach virtual card: %v", err)
		}
	})
	return port, name
}

// takeReader locks a vpcd port whose reader pcscd has and that is empty.
// Port DefaultPort comes last: it is the one hw-test/bench up uses.
func takeReader(dir string) (int, func(), error) {
	ports := benchenv.Ports()
	ports = append(ports[1:], ports[0])
	deadline := time.Now().Add(busyTimeout)
	for {
		readers, err := pcscstate.Readers()
		if err != nil {
			return 0, nil, err
		}
		available := 0
		for _, port := range ports {
			if !slices.Contains(readers, benchenv.ReaderName(port)) {
				continue
			}
			available++
			unlock, err := benchenv.LockPort(dir, port)
			if errors.Is(err, benchenv.ErrPortBusy) {
				continue
			}
			if err != nil {
				return 0, nil, err
			}
			// A card there that nobody locked belongs to something outside
			// the bench's locking (a vpicc, an old process): leave it alone.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = pcscstate.Wait(ctx, benchenv.ReaderName(port), false)
			cancel()
			if err == nil {
				return port, unlock, nil
			}
			unlock()
		}
		if available == 0 {
			return 0, nil, fmt.Errorf("pcscd has none of the bench's vpcd readers (%s, …): run hw-test/bench up", benchenv.ReaderName(benchenv.DefaultPort))
		}
		if time.Now().After(deadline) {
			hint := "run fewer tests in parallel (go test -p 1)"
			if available < benchenv.NumPorts {
				hint = fmt.Sprintf("pcscd has only %d of the bench's %d readers (started from Debian's stock configuration?): stop it and run hw-test/bench up", available, benchenv.NumPorts)
			}
			return 0, nil, fmt.Errorf("all %d virtual readers stayed busy for %v: %s", available, busyTimeout, hint)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// errNotInstalled means the Debian packages of the bench are missing.
var errNotInstalled = errors.New("the PC/SC bench is not installed (pcscd, vsmartcard-vpcd): run hw-test/bench install")

// vpcdDriver is where Debian's vsmartcard-vpcd installs the IFD handler.
const vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

var (
	pcscdOnce sync.Once
	pcscdErr  error
)

// ensurePCSCD makes sure pcscd runs with the bench's vpcd readers, running
// hw-test/bench up --no-card once per test binary when it does not.
func ensurePCSCD() error {
	pcscdOnce.Do(func() { pcscdErr = startPCSCD() })
	return pcscdErr
}

func startPCSCD() error {
	if _, err := os.Stat(vpcdDriver); err != nil {
		return errNotInstalled
	}
	if _, err := exec.LookPath("pcscd"); err != nil {
		if _, err := os.Stat("/usr/sbin/pcscd"); err != nil {
			return errNotInstalled
		}
	}
	if readers, err := pcscstate.Readers(); err == nil && slices.Contains(readers, benchenv.ReaderName(benchenv.DefaultPort)) {
		return nil
	}
	script, err := benchScript()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "up", "--no-card")
	// The pcscd it starts must not hold our pipe open past the deadline.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s up --no-card: %w\n%s", script, err, out)
	}
	return nil
}

// benchScript finds hw-test/bench from the working directory, which go
// test sets to the package directory inside the repository.
func benchScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "hw-test", "bench")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pcscd is not running and hw-test/bench is not found above the working directory: run hw-test/bench up")
		}
		dir = parent
	}
}
