package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// classifyCardError maps the errors of piv and signer to exit codes.
func classifyCardError(err error) (int, bool) {
	var auth piv.AuthError
	switch {
	case errors.As(err, &auth), errors.Is(err, piv.ErrPINBlocked), errors.Is(err, piv.ErrPUKBlocked),
		errors.Is(err, piv.ErrManagementKey), errors.Is(err, signer.ErrNoPIN), errors.Is(err, signer.ErrPINCanceled),
		errors.Is(err, signer.ErrLastPINTry):
		return ExitPIN, true
	case errors.Is(err, piv.ErrNoCard), errors.Is(err, piv.ErrCardRemoved), errors.Is(err, piv.ErrNotPIV),
		errors.Is(err, signer.ErrKeyChanged), errors.Is(err, piv.ErrNoPCSC), errors.Is(err, piv.ErrNoService):
		return ExitNoCard, true
	}
	return 0, false
}

// lastTry reports signer's lockout-guard errors, which end on allowing the last try explicitly and
// name no flag: remedy words them with this command line's way to do it.
func lastTry(err error) bool {
	var pe *signer.PINError
	return errors.Is(err, piv.ErrLastTry) || errors.As(err, &pe) && pe.Auth.Retries == 1
}

// selector is the card the flags (or the profile) name; its zero value means "the only card".
func (a *app) selector() piv.Selector {
	return piv.Selector{Reader: a.opts.reader, Serial: a.opts.serial, GUID: a.opts.guid}
}

// openCard calls open with the card selector until it gets a card: when no card matches, it
// waits for one to be inserted (waitForCard); when several cards match (piv.AmbiguousError: no
// selector and several cards present, or part of a reader name that several readers share), it
// asks which one on the terminal, or fails listing them with the flags that pick each. open
// opens the card (piv.Open, signer.Open) and nothing else, so that retrying it after a wait or a
// choice is harmless.
func (a *app) openCard(ctx context.Context, open func(context.Context, piv.Selector) error) error {
	sel := a.selector()
	waited, chose := false, false
	for {
		err := open(ctx, sel)
		var amb *piv.AmbiguousError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return err
		case errors.Is(err, piv.ErrNoCard) && !waited:
			if err := a.waitForCard(ctx, sel); err != nil {
				return err
			}
			waited = true
		case errors.As(err, &amb) && !chose:
			chosen, cerr := a.chooseCard(ctx, amb.Cards)
			if cerr != nil {
				return cerr
			}
			sel, chose = chosen, true
		default:
			return err
		}
	}
}

// openPIV opens the selected card with the engine (for commands that need no signer).
func (a *app) openPIV(ctx context.Context) (*piv.Card, error) {
	trace, err := a.traceHook() // a refused trace file fails before the card is opened
	if err != nil {
		return nil, err
	}
	var card *piv.Card
	err = a.openCard(ctx, func(ctx context.Context, sel piv.Selector) (err error) {
		card, err = piv.Open(ctx, sel)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.log.Debug("card opened", "reader", card.Reader())
	card.SetTrace(trace)
	return card, nil
}

// openIdentified opens the selected card with the engine (openPIV) and identifies it, for the
// commands that name the card in what they print. The caller closes the card.
func (a *app) openIdentified(ctx context.Context) (*piv.Card, piv.Identity, error) {
	card, err := a.openPIV(ctx)
	if err != nil {
		return nil, piv.Identity{}, err
	}
	id, err := card.Identity(ctx)
	if err != nil {
		card.Close()
		return nil, piv.Identity{}, err
	}
	return card, id, nil
}

// waitForCard waits for a card the selector picks. On a terminal it shows "Insert your PIV
// card…" with a spinner and waits until --timeout (no limit when 0) or Ctrl-C. Without a terminal
// it waits only when --timeout is given, and otherwise fails at once: an unattended job should
// not hang on a card nobody will insert.
func (a *app) waitForCard(ctx context.Context, sel piv.Selector) error {
	timeout, tty := a.opts.timeout, stderrIsTerminal(a.stderr)
	if timeout == 0 && !tty {
		return withCode(ExitNoCard, fmt.Errorf("no card found (%s): insert one, or give --timeout to wait for it", sel))
	}
	what := "your PIV card"
	if sel != (piv.Selector{}) {
		what = "the PIV card (" + sel.String() + ")"
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	msg := "Insert " + what + "…"
	if tty {
		stop := startSpinner(a.stderr, msg+" (Ctrl-C to cancel)")
		defer stop()
	} else {
		fmt.Fprintf(a.stderr, "pivauth: %s (waiting up to %s)\n", msg, timeout)
	}
	reader, err := piv.WaitForCard(wctx, sel)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return withCode(ExitNoCard, fmt.Errorf("no card (%s) was inserted within %s", sel, timeout))
		}
		return err
	}
	a.log.Debug("card inserted", "reader", reader)
	return nil
}

// progress shows msg with a spinner while a long step runs (a card generating a key) when stderr
// is a terminal, and nothing when it is not (a pipe, a log file: a spinner's carriage returns
// would only garble it). stop erases the line.
func (a *app) progress(msg string) (stop func()) {
	if !stderrIsTerminal(a.stderr) {
		return func() {}
	}
	return startSpinner(a.stderr, msg)
}

// startSpinner draws msg with a turning spinner on the terminal w until stop is called, which
// erases the line.
func startSpinner(w io.Writer, msg string) (stop func()) {
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "\r%s %s", frames[i%len(frames)], msg)
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// chooseCard lists the cards that matched and lets the person pick one on the terminal. Without
// a terminal it fails with the list and the flag that picks each card.
func (a *app) chooseCard(ctx context.Context, cards []piv.Identity) (piv.Selector, error) {
	t, err := openTerminal()
	if err != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "%d cards are present; choose one:", len(cards))
		for _, c := range cards {
			fmt.Fprintf(&b, "\n  %-28s %s in %q", pickFlag(c), c, c.Reader)
		}
		return piv.Selector{}, withCode(ExitUsage, errors.New(b.String()))
	}
	defer t.Close()
	t.Printf("%d cards are present:\n", len(cards))
	for i, c := range cards {
		t.Printf("  %d) %s in %q\n", i+1, c, c.Reader)
	}
	for {
		t.Printf("Which card [1-%d]? ", len(cards))
		line, err := t.ReadLine(ctx)
		if err != nil {
			return piv.Selector{}, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err == nil && n >= 1 && n <= len(cards) {
			return piv.Selector{Reader: cards[n-1].Reader}, nil
		}
	}
}

// pickFlag is the flag that selects the card: its serial or GUID when it has one (they follow
// the card from reader to reader), else its reader.
func pickFlag(id piv.Identity) string {
	switch {
	case id.YubicoExtensions && id.Serial != 0:
		return fmt.Sprintf("--serial %d", id.Serial)
	case id.GUID != "":
		return "--guid " + id.GUID
	}
	return fmt.Sprintf("--reader %q", id.Reader)
}
