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
