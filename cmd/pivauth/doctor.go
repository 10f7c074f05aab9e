package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/internal/pcsc"
	"github.com/pivauth/pivauth/piv"
)

// checkStatus is the outcome of one doctor check.
type checkStatus string

const (
	checkOK   checkStatus = "ok"   // works
	checkWarn checkStatus = "warn" // works, but needs attention soon or is insecure
	checkFail checkStatus = "fail" // what the chosen profile needs does not work
)

// Thresholds of the doctor's checks.
const (
	// certWarnBefore: a certificate expiring sooner than this is flagged, in time to renew it and
	// upload the new one to the app registration.
	certWarnBefore = 30 * 24 * time.Hour
	// maxClockSkew: identity providers refuse client assertions whose nbf/exp are off by more
	// than a few minutes (Entra allows 5; keep a margin).
	maxClockSkew = 2 * time.Minute
	// clockCheckTimeout bounds the request for the identity provider's Date header.
	clockCheckTimeout = 10 * time.Second
)

// doctorCheck is one line of `pivauth doctor`; the JSON field names are part of the CLI contract.
type doctorCheck struct {
	Check   string      `json:"check"` // config, pcscd, readers, card, certificate, pin, puk, management_key, agent, clock
	Status  checkStatus `json:"status"`
	Reader  string      `json:"reader,omitempty"`
	Slot    string      `json:"slot,omitempty"`
	Message string      `json:"message"`
	Fix     string      `json:"fix,omitempty"`
}

// doctorReport is the JSON output of `pivauth doctor`, for support tickets.
type doctorReport struct {
	OK      bool          `json:"ok"` // no check failed
	Version string        `json:"version"`
	Profile string        `json:"profile,omitempty"`
	Slot    string        `json:"slot"` // the slot the profile (or --slot) signs with
	Checks  []doctorCheck `json:"checks"`
}

func (r *doctorReport) add(c doctorCheck) { r.Checks = append(r.Checks, c) }

// failed counts the failed checks.
func (r *doctorReport) failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == checkFail {
			n++
		}
	}
	return n
}

const doctorLong = `Check what pivauth needs, one line per check with ✓ (works), ! (works, but look at it) or ✗
(broken), and the fix: the configuration file and its permissions; pcscd; the readers and the cards
in them; for each card its PIV application, the certificate in each slot and its expiry (! under
30 days), the PIN tries left (read without spending one), and on a YubiKey whether the PIN, PUK or
management key still have their factory values; the pivauth agent; and when the profile names an
identity provider, the system clock against the provider's Date header (assertions fail when it is
more than a couple of minutes off).

With --reader, --serial, --guid or a profile naming a card only that card is checked; the slot
that must hold a valid certificate is --slot (or the profile's). The exit code is 0 only when
everything the chosen profile needs works (1 otherwise); warnings do not change it. --output json is the report
to attach to a support ticket: it holds no secret.`

func (a *app) doctorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check pcscd, readers, cards, certificates, PIN, agent, configuration and clock, with fixes",
		Long:  doctorLong,
		Example: `  pivauth doctor
  pivauth doctor --profile exo
  pivauth doctor --output json > pivauth-doctor.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := a.runDoctor(cmd)
			if err := a.emit(rep, func(w io.Writer) error { writeDoctor(w, rep); return nil }); err != nil {
				return err
			}
			if n := rep.failed(); n > 0 {
				return fmt.Errorf("doctor: %d of %d checks failed", n, len(rep.Checks))
			}
			return nil
		},
	}
	setOutputFormats(cmd, "text", "json")
	// The configuration file is the doctor's to check, not a reason to refuse to start.
	return noProfile(cmd)
}

// runDoctor runs every check.
func (a *app) runDoctor(cmd *cobra.Command) *doctorReport {
	ctx := cmd.Context()
	rep := &doctorReport{Version: readBuildInfo().Version, Checks: []doctorCheck{}}
	a.checkConfig(cmd, rep)
	rep.Profile, rep.Slot = a.profile.Name, a.opts.slot
	if readers, ok := checkPCSC(ctx, rep); ok {
		a.checkCards(ctx, rep, readers)
	}
	checkAgent(ctx, rep)
	a.checkClock(ctx, rep)
	rep.OK = rep.failed() == 0
	return rep
}

// checkConfig reads the configuration file as every command does (loadProfile, which also fills
// in the card and slot flags from the profile, and refuses a file or folder others can write, with
// the chmod or chown to run).
func (a *app) checkConfig(cmd *cobra.Command, rep *doctorReport) {
	path, _, _ := a.configPath()
	c := doctorCheck{Check: "config"}
	if err := a.loadProfile(cmd); err != nil {
		c.Status, c.Message, c.Fix = checkFail, err.Error(), "fix the file (see 'pivauth help config'), or name another with --config"
		rep.add(c)
		return
	}
	fi, err := os.Stat(path)
	switch {
	case path == "" || errors.Is(err, fs.ErrNotExist):
		c.Status, c.Message = checkOK, fmt.Sprintf("no configuration file (%s): flags only", dash(path))
	case err != nil:
		c.Status, c.Message = checkFail, err.Error()
	default:
		c.Status, c.Message = checkOK, fmt.Sprintf("%s (mode %04o)", path, fi.Mode().Perm())
		if a.profile.Name != "" {
			c.Message += fmt.Sprintf(", profile %q", a.profile.Name)
		}
	}
	rep.add(c)
}

// pcscdSocket is where libpcsclite looks for pcscd.
func pcscdSocket() string {
	if s := os.Getenv("PCSCLITE_CSOCK_NAME"); s != "" {
		return s
	}
	return "/run/pcscd/pcscd.comm"
}

// startPCSCD says how to start pcscd, with and without a service manager.
const startPCSCD = "start it: sudo systemctl enable --now pcscd.socket; where no service manager runs " +
	"(a container, WSL without systemd): sudo pcscd (Debian/Ubuntu: apt install pcscd)"

// polkitRefused explains pcscd's polkit check: pcscd closes the connection of a client polkit
// does not authorize for org.debian.pcsc-lite.access_pcsc before answering its first message, and
// refuses SCardConnect without access_card. libpcsclite 1.9 reports the first as
// SCARD_W_SECURITY_VIOLATION ("Access denied."), older ones as SCARD_F_COMM_ERROR; a client
// whose message had not been written yet when pcscd closed sees SCARD_E_NO_SERVICE instead,
// hence the hint when pcscd's socket exists.
const polkitRefused = "pcscd refused this user: its polkit policy allows only local active sessions by default " +
	"(pcscd logs \"Rejected unauthorized PC/SC client\"; typical for SSH logins and services)"

const polkitFix = "allow your user or group in a polkit rule for org.debian.pcsc-lite.access_pcsc and " +
	"org.debian.pcsc-lite.access_card (/etc/polkit-1/rules.d/), or run from a local desktop session"

// checkPCSC checks that pcscd answers and lists its readers.
func checkPCSC(ctx context.Context, rep *doctorReport) ([]string, bool) {
	readers, err := piv.Readers(ctx)
	c := doctorCheck{Check: "pcscd", Status: checkFail}
	switch {
	case err == nil:
		c.Status, c.Message = checkOK, "reachable at "+pcscdSocket()
	case errors.Is(err, piv.ErrNoPCSC):
		c.Message, c.Fix = "this pivauth was built without cgo and cannot use PC/SC", "rebuild with CGO_ENABLED=1 and libpcsclite-dev, or install the Debian package"
	case errors.Is(err, piv.ErrNoService):
		c.Message, c.Fix = "pcscd is not running (nothing answers at "+pcscdSocket()+")", startPCSCD
		if fi, serr := os.Stat(pcscdSocket()); serr == nil && fi.Mode().Type() == fs.ModeSocket {
			c.Message = "pcscd does not answer at " + pcscdSocket() + " although the socket exists: it stopped without removing it, or refused this user (polkit)"
			c.Fix = startPCSCD + "; if it runs: " + polkitFix
		}
	case errors.Is(err, pcsc.ErrCommError), errors.Is(err, pcsc.ErrSecurityViolation):
		c.Message, c.Fix = polkitRefused+": "+err.Error(), polkitFix
	default:
		c.Message, c.Fix = err.Error(), "restart pcscd: sudo systemctl restart pcscd"
	}
	rep.add(c)
	if err != nil {
		return nil, false
	}
	r := doctorCheck{Check: "readers", Status: checkOK, Message: fmt.Sprintf("%d reader(s)", len(readers))}
	if len(readers) == 0 {
		r.Status, r.Message = checkFail, "no smart-card reader"
		r.Fix = "plug in the card reader or YubiKey (a YubiKey needs its CCID interface enabled: ykman config usb --enable PIV); " +
			"pcscd needs a driver for it (Debian: libccid)"
	}
	rep.add(r)
	return readers, len(readers) > 0
}

// checkCards checks the selected card, or every card present when none is selected.
func (a *app) checkCards(ctx context.Context, rep *doctorReport, readers []string) {
	slot, err := piv.ParseSlot(a.opts.slot)
	if err != nil {
		rep.add(doctorCheck{Check: "card", Status: checkFail, Message: err.Error(), Fix: "use --slot 9a, 9c, 9d, 9e or 82..95"})
		return
	}
	if sel := a.selector(); sel != (piv.Selector{}) {
		card, err := piv.Open(ctx, sel)
		if err != nil {
			rep.add(cardOpenFailure(sel.String(), sel.Reader, err))
			return
		}
		defer card.Close()
		checkCard(ctx, rep, card, slot)
		return
	}
	found := 0
	for _, name := range readers {
		card, err := piv.Open(ctx, piv.Selector{Reader: name})
		if errors.Is(err, piv.ErrNoCard) {
			continue
		}
		found++
		if err != nil {
			rep.add(cardOpenFailure("reader "+quote(name), name, err))
			continue
		}
		checkCard(ctx, rep, card, slot)
		card.Close()
	}
	if found == 0 {
		rep.add(doctorCheck{Check: "card", Status: checkFail,
			Message: fmt.Sprintf("no card in any of the %d reader(s)", len(readers)),
			Fix:     "insert the card (pivauth cards lists the readers)"})
	}
}

// quote quotes a reader name as the other commands print it.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// cardOpenFailure is the check line for a card that could not be opened.
func cardOpenFailure(what, reader string, err error) doctorCheck {
	c := doctorCheck{Check: "card", Status: checkFail, Reader: reader, Message: what + ": " + err.Error()}
	var amb *piv.AmbiguousError
	switch {
	case errors.Is(err, piv.ErrNoCard):
		c.Message, c.Fix = "no card for "+what, "insert the card, or select another with --reader, --serial or --guid (pivauth cards lists them)"
	case errors.Is(err, piv.ErrNotPIV):
		c.Fix = "a YubiKey needs its PIV application enabled (ykman config usb --enable PIV); other cards without one cannot be used"
	case errors.As(err, &amb):
		c.Fix = "select one with --reader, --serial or --guid"
	case errors.Is(err, pcsc.ErrSecurityViolation):
		c.Message, c.Fix = polkitRefused+": "+err.Error(), polkitFix
	case errors.Is(err, pcsc.ErrSharingViolation):
		c.Fix = "another program holds the card exclusively (gpg's scdaemon, a piv-go tool): stop it or run gpgconf --kill scdaemon"
	default:
		c.Fix = "remove and reinsert the card, then run pivauth doctor again"
	}
	return c
}

// checkCard checks one card: identity and PIV application, the certificates of its slots (the
// signing slot must hold a valid one), and its PIN state and factory values.
func checkCard(ctx context.Context, rep *doctorReport, card *piv.Card, slot piv.Slot) {
	reader := card.Reader()
	id, err := card.Identity(ctx)
	if err != nil {
		rep.add(cardOpenFailure("reader "+quote(reader), reader, err))
		return
	}
	rep.add(doctorCheck{Check: "card", Status: checkOK, Reader: reader,
		Message: fmt.Sprintf("%s in %q, PIV application present (select with %s)", id, reader, pickFlag(id))})

	certs, err := readCertificates(ctx, card, nil)
	if err != nil {
		rep.add(doctorCheck{Check: "certificate", Status: checkFail, Reader: reader, Message: err.Error(),
			Fix: "rewrite the certificate: pivauth setup selfsign or pivauth setup import"})
	}
	now := time.Now()
	signing := false
	for _, sc := range certs {
		signing = signing || sc.slot == slot
		rep.add(checkCertificate(reader, sc, sc.slot == slot, now))
	}
	if !signing && err == nil {
		rep.add(doctorCheck{Check: "certificate", Status: checkFail, Reader: reader, Slot: slot.String(),
			Message: "no certificate in the slot pivauth signs with",
			Fix:     "put a key and certificate there: pivauth setup key, then pivauth setup selfsign or csr + import; or choose the slot with --slot"})
	}

	st, err := readPINStatus(ctx, card, id)
	if err != nil {
		rep.add(doctorCheck{Check: "pin", Status: checkFail, Reader: reader, Message: "reading the PIN state: " + err.Error(),
			Fix: "remove and reinsert the card, then run pivauth doctor again"})
		return
	}
	rep.add(checkSecret("pin", reader, st.PIN))
	if st.PUK != nil {
		rep.add(checkSecret("puk", reader, *st.PUK))
	}
	if st.ManagementKey != nil {
		c := doctorCheck{Check: "management_key", Status: checkOK, Reader: reader, Message: st.ManagementKey.Algorithm + ", not the factory default"}
		if st.ManagementKey.Default {
			c.Status, c.Message = checkWarn, st.ManagementKey.Algorithm+" management key is the factory default, which anyone can look up: anyone with the card can replace its keys"
			c.Fix = "set a random one, kept on the card under the PIN: pivauth setup management-key"
		}
		rep.add(c)
	}
}

// checkCertificate rates one slot's certificate: expired or not yet valid fails for the signing
// slot (and warns elsewhere); under certWarnBefore left warns.
func checkCertificate(reader string, sc slotCert, signing bool, now time.Time) doctorCheck {
	cert := sc.cert
	c := doctorCheck{Check: "certificate", Status: checkOK, Reader: reader, Slot: sc.slot.String()}
	left := cert.NotAfter.Sub(now)
	days := int(left.Round(24*time.Hour).Hours() / 24)
	bad := checkWarn
	if signing {
		bad = checkFail
	}
	const renew = "renew it: pivauth setup selfsign (and upload the new certificate to the app registration) or pivauth setup csr + import"
	switch {
	case now.After(cert.NotAfter):
		c.Status, c.Fix = bad, renew
		c.Message = fmt.Sprintf("%s expired on %s", cert.Subject, cert.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(cert.NotBefore):
		c.Status, c.Fix = bad, "check the system clock, or wait until the certificate becomes valid"
		c.Message = fmt.Sprintf("%s is not valid before %s", cert.Subject, cert.NotBefore.UTC().Format(time.RFC3339))
	case left < certWarnBefore:
		c.Status, c.Fix = checkWarn, renew
		c.Message = fmt.Sprintf("%s expires in %d days (%s)", cert.Subject, days, cert.NotAfter.UTC().Format(time.DateOnly))
	default:
		c.Message = fmt.Sprintf("%s, expires %s (%d days)", cert.Subject, cert.NotAfter.UTC().Format(time.DateOnly), days)
	}
	return c
}

// checkSecret rates the PIN or PUK state read by readPINStatus (tries left without spending one).
func checkSecret(check, reader string, s secretJSON) doctorCheck {
	name := strings.ToUpper(check)
	c := doctorCheck{Check: check, Status: checkOK, Reader: reader}
	switch {
	case s.RetriesLeft == 0 && check == "pin":
		c.Status, c.Message, c.Fix = checkFail, "PIN blocked", "unblock it with the PUK: pivauth pin unblock"
	case s.RetriesLeft == 0:
		c.Status, c.Message, c.Fix = checkWarn, "PUK blocked: a blocked PIN can no longer be unblocked", "keep the PIN tries; only a PIV reset (erasing the keys) resets the PUK"
	case s.RetriesLeft < 0:
		c.Status, c.Message = checkWarn, "the card is PIN-verified right now: another program left it open, and any local process can use its keys"
		c.Fix = "remove and reinsert the card; find the program (OpenSC's PKCS#11 module keeps cards verified)"
	case s.RetriesLeft == 1:
		c.Status, c.Message = checkWarn, name+": 1 try left; pivauth will not present it without --allow-last-try"
		c.Fix = "make sure of the value first; a wrong one blocks it"
	default:
		c.Message = fmt.Sprintf("%s: %d tries left", name, s.RetriesLeft)
		if s.RetriesTotal > 0 {
			c.Message = fmt.Sprintf("%s: %d of %d tries left", name, s.RetriesLeft, s.RetriesTotal)
		}
	}
	if s.Default != nil && *s.Default && c.Status == checkOK {
		c.Status = checkWarn
		c.Message += ", but it is still the factory default, which anyone can look up"
		c.Fix = "change it: pivauth pin change"
		if check == "puk" {
			c.Fix = "change it: pivauth pin change --puk"
		}
	}
	return c
}

// checkAgent reports the agent. Not running is fine (commands use the card directly); a socket
// that is not the user's own breaks every command that looks for the agent.
func checkAgent(ctx context.Context, rep *doctorReport) {
	c := doctorCheck{Check: "agent", Status: checkOK}
	cl, err := agent.Dial(ctx, nil)
	switch {
	case errors.Is(err, agent.ErrNoAgent):
		c.Message = "not running: commands use the card directly and ask for the PIN each time"
		c.Fix = "for the PIN once per session: systemctl --user enable --now pivauth-agent (or pivauth agent &)"
	case err != nil:
		c.Status, c.Message = checkFail, err.Error()
		c.Fix = "remove " + agent.SocketPath() + " and its directory if they are not yours, then start the agent again"
	default:
		defer cl.Close()
		st, err := cl.Status(ctx)
		if err != nil {
			c.Status, c.Message, c.Fix = checkFail, "the agent does not answer: "+err.Error(), "restart it: systemctl --user restart pivauth-agent"
			break
		}
		state := "unlocked"
		if st.Locked {
			state = "locked (the next command asks for the PIN)"
		}
		c.Message = fmt.Sprintf("running (pid %d, %s) at %s, %d key(s) open, %d token(s) cached", st.PID, state, agent.SocketPath(), len(st.Keys), st.Tokens)
	}
	rep.add(c)
}

// checkClock compares the system clock with the Date header of the identity provider the profile
// names: assertions carry nbf, iat and exp from this clock, and a provider refuses them when the
// clocks disagree by more than a few minutes.
func (a *app) checkClock(ctx context.Context, rep *doctorReport) {
	p := a.profile
	target := p.Issuer
	switch {
	case p.Authority != "":
		target = p.Authority
	case p.Tenant != "":
		target = entra.PublicCloud
	}
	if target == "" {
		return
	}
	c := doctorCheck{Check: "clock", Status: checkFail}
	defer func() { rep.add(c) }()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
		c.Message, c.Fix = fmt.Sprintf("identity provider %q: not an https URL", target), "fix the profile's issuer or authority"
		return
	}
	ctx, cancel := context.WithTimeout(ctx, clockCheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		c.Message = err.Error()
		return
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.Message = "identity provider " + u.Host + " unreachable: " + err.Error()
		c.Fix = "check the network, proxy (HTTPS_PROXY) and trusted CAs (SSL_CERT_FILE)"
		return
	}
	resp.Body.Close()
	// The Date header has a resolution of one second; take our clock halfway through the request.
	local := sent.Add(time.Since(sent) / 2)
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.Status, c.Message = checkWarn, u.Host+" sent no usable Date header: the clock is not checked"
		return
	}
	skew := local.Sub(date).Round(time.Second)
	c.Message = fmt.Sprintf("system clock within %s of %s", absDuration(skew), u.Host)
	if absDuration(skew) > maxClockSkew {
		dir := "ahead of"
		if skew < 0 {
			dir = "behind"
		}
		c.Message = fmt.Sprintf("system clock is %s %s %s: the provider will refuse assertions", absDuration(skew), dir, u.Host)
		c.Fix = "synchronise the clock: sudo timedatectl set-ntp true (or chrony/ntpd)"
		return
	}
	c.Status = checkOK
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// isLoopback reports a loopback host name or address: local test providers may use plain http.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// doctorMarks are the line marks of the text output.
var doctorMarks = map[checkStatus]string{checkOK: "✓", checkWarn: "!", checkFail: "✗"}

// writeDoctor prints one line per check: mark, check, message and, after " — ", the fix; then
// a summary.
func writeDoctor(w io.Writer, rep *doctorReport) {
	warnings := 0
	for _, c := range rep.Checks {
		label := strings.ReplaceAll(c.Check, "_", " ")
		if c.Check == "certificate" && c.Slot != "" {
			label = "slot " + c.Slot
		}
		line := fmt.Sprintf("%s %-14s %s", doctorMarks[c.Status], label, c.Message)
		if c.Fix != "" && c.Status != checkOK {
			line += " — " + c.Fix
		}
		fmt.Fprintln(w, line)
		if c.Status == checkWarn {
			warnings++
		}
	}
	if n := rep.failed(); n > 0 {
		fmt.Fprintf(w, "%d problem(s) to fix (✗) before pivauth can work", n)
	} else {
		fmt.Fprint(w, "pivauth can work")
	}
	if rep.Profile != "" {
		fmt.Fprintf(w, " with profile %q", rep.Profile)
	}
	fmt.Fprintf(w, " (slot %s)", rep.Slot)
	if warnings > 0 {
		fmt.Fprintf(w, "; %d warning(s) (!)", warnings)
	}
	fmt.Fprintln(w, ".")
}
