//go:build linux

package piv_test

import (
	"context"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestTransactionEndsOnPanic: an operation that panics inside Transaction, recovered by its
// caller (a server's handler, say), ends the PC/SC transaction on its way out: another connection
// can then start one. Left open, the card would stay locked to every other program (and keep
// whatever security status the operation had set) until this process ends.
func TestTransactionEndsOnPanic(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	c := openBench(t, b)
	func() {
		defer func() { _ = recover() }()
		_ = c.Transaction(testContext(t), func(*piv.Tx) error { panic("operation failed") })
	}()

	done := make(chan error, 1)
	go func() {
		// Open runs a transaction of its own: it blocks as long as the card is locked.
		other, err := piv.Open(context.Background(), piv.Selector{Reader: b.Reader})
		if err == nil {
			err = other.Transaction(context.Background(), func(*piv.Tx) error { return nil })
			other.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // a hang guard, not a measurement: it ends at once when unlocked
		c.Close() // releases the lock, so the goroutine ends
		<-done
		t.Fatal("another connection could not start a transaction: the panicking one was never ended")
	}
}
