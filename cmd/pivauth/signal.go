package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// notifyInterrupt returns a context cancelled by Ctrl-C (SIGINT) or SIGTERM, so that a wait for a
// card, a PIN prompt or a network call ends cleanly and the program leaves with ExitInterrupted
// instead of being killed half-way. syscall.SIGTERM exists on every platform Go supports.
func notifyInterrupt(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
