//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrorsBeforeCard: every usage error of the commands that use the card exits 2 before
// the card is opened: the bench counts no APDU. A PIN file that is missing or open to others, a
// slot that does not parse, an unknown profile or output format, an Entra token without --scope,
// an issuer that is not an https URL, curl's -k.
func TestUsageErrorsBeforeCard(t *testing.T) {
	e := startEntraBench(t)
	c, b := e.c, e.b
	dir := t.TempDir()
	openPIN := writeFile(t, dir, "open.pin", "123456\n", 0o644)
	missing := filepath.Join(dir, "missing.pin")
	entraArgs := []string{"--reader", b.Reader, "--pin-file", e.pin, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", e.ca}
	with := func(base []string, extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with([]string{"token"}, entraArgs...), "--scope is required for Entra ID"},
		{with([]string{"token", "--reader", b.Reader, "--pin-file", missing, "--authority", e.srv.Authority(), "--client-id", "c", "--scope", graphDefault}), "--pin-file"},
		{with([]string{"assertion", "--reader", b.Reader, "--pin-file", openPIN, "--client-id", "c", "--audience", "https://idp.example/token"}), "--pin-file"},
		{with([]string{"assertion", "--slot", "zz", "--client-id", "c", "--audience", "https://idp.example/token"}, entraArgs...), "--slot"},
		{with([]string{"token", "--profile", "nosuch", "--scope", graphDefault}, entraArgs...), "nosuch"},
		{with([]string{"token", "--output", "yaml", "--scope", graphDefault}, entraArgs...), `--output "yaml" is not offered`},
		{with([]string{"token", "--reader", b.Reader, "--issuer", "http://idp.example", "--client-id", "c", "--scope", "s"}), "--issuer"},
		{with([]string{"token", "--reader", b.Reader, "--issuer", "not a url", "--client-id", "c", "--scope", "s"}), "--issuer"},
		{with([]string{"certs", "--reader", b.Reader, "--slot", "9z"}), "--slot"},
		{with([]string{"pin", "change", "--reader", b.Reader, "--pin-file", missing}), "--pin-file"},
		{with([]string{"request", "-k", "--reader", b.Reader, "https://example.invalid/"}), "no insecure mode"},
		{with([]string{"setup", "selfsign", "--reader", b.Reader, "--slot", "77", "--subject", "CN=x"}), "--slot"},
	} {
		b.ResetStats()
		c.fails(ExitUsage, []string{tc.want}, tc.args...)
		if st := b.Stats(); st.APDUs != 0 {
			t.Errorf("pivauth %s: %d APDUs before the usage error, want 0", strings.Join(tc.args, " "), st.APDUs)
		}
	}
}
