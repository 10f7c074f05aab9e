//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestTouchNotice: a key with a touch policy makes the command that needs the signature tell its
// user to touch the card, on its terminal, in the same words whether it signs itself or through
// the agent; with stderr not a terminal it says nothing.
func TestTouchNotice(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("imports a key: virtual card only")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	card, err := piv.Open(context.Background(), piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	err = card.ImportKey(context.Background(), piv.DefaultManagementKey(), piv.SlotAuthentication, key, issue(t, key.Public(), "touch"),
		piv.KeyOptions{PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways})
	_ = card.Close()
	if err != nil {
		t.Fatal(err)
	}
	b.Card.SetTouchDelay(1500 * time.Millisecond) // the notice comes once the card took about a second

	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtime)
	args := []string{"assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://idp.example/token"}
	onTerminal := func(how string) {
		s := startTmux(t, c, args...)
		if scr := s.waitFor("EXIT=0", 1); strings.Count(scr, "Touch your YubiKey…") != 1 {
			t.Errorf("%s, on a terminal:\n%s", how, scr)
		}
	}
	onTerminal("without an agent")
	if r := c.ok(args...); strings.Contains(r.stderr, "Touch") {
		t.Errorf("without an agent, stderr not a terminal:\n%s", r.stderr)
	}
	_, agentLog, _ := startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	onTerminal("through the agent")
	if r := c.ok(args...); strings.Contains(r.stderr, "Touch") {
		t.Errorf("through the agent, stderr not a terminal:\n%s", r.stderr)
	}
	if strings.Contains(agentLog.String(), "Touch your") {
		t.Errorf("the agent printed the notice itself:\n%s", agentLog)
	}
	// The audit records name the YubiKey as `cards` does, signed directly or by the agent.
	var cards cardsJSON
	decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
	name := cards.Readers[0].Card.Name
	evs := auditEvents(t, c)
	if !strings.HasPrefix(name, "YubiKey ") || len(evs) != 4 {
		t.Fatalf("card %q, %d audit events", name, len(evs))
	}
	// The same serial; the firmware version only where the operation read it (a cold run
	// identifies the card by its serial alone).
	serial := name[strings.LastIndex(name, " #"):]
	for _, ev := range evs {
		if ev.CardName != name && ev.CardName != "YubiKey"+serial {
			t.Errorf("audit event names the card %q, want %q or %q", ev.CardName, name, "YubiKey"+serial)
		}
	}
}
