//go:build linux

package piv_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
)

// TestNoService: without a PC/SC service every entry point fails with
// ErrNoService, which says to start pcscd. pcsc-lite reads the socket path
// from PCSCLITE_CSOCK_NAME once per process, so the test runs itself again
// aimed at a socket nobody serves (pcscd on the bench keeps running).
func TestNoService(t *testing.T) {
	if os.Getenv("PIVAUTH_TEST_NO_SERVICE") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoService$", "-test.v")
		cmd.Env = append(os.Environ(), "PIVAUTH_TEST_NO_SERVICE=1",
			"PCSCLITE_CSOCK_NAME="+filepath.Join(t.TempDir(), "no-pcscd.comm"))
		out, err := testio.CombinedOutput(cmd, 2*time.Minute)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestNoService") {
			t.Fatalf("without pcscd: %v\n%s", err, out)
		}
		return
	}
	ctx := testContext(t)
	_, err := piv.Readers(ctx)
	check := func(what string, err error) {
		t.Helper()
		// Not ErrNoCard either: a caller would wait for a card that cannot come.
		if !errors.Is(err, piv.ErrNoService) || errors.Is(err, piv.ErrNoCard) || !strings.Contains(err.Error(), "pcscd") {
			t.Errorf("%s without pcscd: %v, want ErrNoService", what, err)
		}
	}
	check("Readers", err)
	_, err = piv.Cards(ctx)
	check("Cards", err)
	_, err = piv.Open(ctx, piv.Selector{})
	check("Open", err)
	_, err = piv.WaitForCard(ctx, piv.Selector{})
	check("WaitForCard", err)
}
