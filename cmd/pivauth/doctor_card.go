package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
	"github.com/pivauth/pivauth/piv"
)

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
