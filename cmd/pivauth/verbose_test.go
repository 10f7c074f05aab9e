//go:build linux

package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestVerboseNeverLogsSecrets: --verbose logs what happens, APDUs included, and never a PIN (as
// text or in an APDU) or what the command printed as a secret (an assertion).
func TestVerboseNeverLogsSecrets(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	newPIN := "86427531"
	r := c.ok("pin", "change", "--verbose", "--reader", b.Reader, "--pin-file", writeFile(t, c.dir, "old", factoryPIN, 0o600),
		"--new-pin-file", writeFile(t, c.dir, "new", newPIN, 0o600))
	if !strings.Contains(r.stderr, "level=DEBUG") || !strings.Contains(r.stderr, "msg=apdu") {
		t.Errorf("--verbose logged no APDUs:\n%s", r.stderr)
	}
	r2 := c.ok("assertion", "--verbose", "--reader", b.Reader, "--client-id", "c", "--audience", "https://x/token", "--pin-file", writeFile(t, c.dir, "cur", newPIN, 0o600))
	if !strings.Contains(r2.stderr, "msg=\"signer opened\"") {
		t.Errorf("assertion --verbose:\n%s", r2.stderr)
	}
	for _, secret := range []string{factoryPIN, newPIN} {
		for _, form := range []string{secret, strings.ToUpper(hex.EncodeToString([]byte(secret)))} {
			if strings.Contains(r.stderr, form) || strings.Contains(r2.stderr, form) {
				t.Errorf("the log shows a PIN (%s)", form)
			}
		}
	}
	if jwt := strings.TrimSpace(r2.stdout); jwt == "" || strings.Contains(r2.stderr, jwt) || strings.Contains(r2.stderr, strings.Split(jwt, ".")[2]) {
		t.Errorf("the log shows the assertion")
	}
}
