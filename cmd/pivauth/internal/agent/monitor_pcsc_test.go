//go:build linux

package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// The monitor sees a pull through pcscd, and a pull-and-reinsert as a new epoch.
func TestPCSCMonitorSeesRemoval(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("pulls the card: virtual card only")
	}
	var m PCSCMonitor
	e0, err := m.Epoch(b.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Epoch(b.Reader); again != e0 {
		t.Fatalf("epoch moved without a removal: %d, %d", e0, again)
	}

	// Wait ends when the context does, not before.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Wait(ctx, b.Reader, e0) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on an untouched reader = %v, want context.Canceled", err)
	}

	go func() { done <- m.Wait(context.Background(), b.Reader, e0) }()
	b.Pull()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait across a removal: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return after the card was pulled")
	}
	b.Insert()
	e1, err := m.Epoch(b.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if e1 == e0 {
		t.Fatalf("epoch %d unchanged after pull and reinsert", e1)
	}
	// A stale epoch returns at once.
	if err := m.Wait(context.Background(), b.Reader, e0); err != nil {
		t.Fatal(err)
	}
}
