package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent/card"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

const agentLong = `pivauth agent holds the card session and the PIN for your working session, so that you type the
PIN once and then run pivauth token, assertion, exec and request as often as you like. It runs in
the foreground (log on stderr; stop it with Ctrl-C or SIGTERM), e.g. as a systemd user service, and
serves the pivauth commands of your own user over $XDG_RUNTIME_DIR/pivauth/agent.sock. Commands use
a running agent by themselves and use the card directly when there is none.

When the agent needs the PIN, the command that asked prompts for it on its own terminal (or reads
its --pin-file); an agent started with --pinentry asks through pinentry when that command cannot.
The card is never left PIN-verified between operations: another program cannot use the session.

The agent forgets the PIN, closes the card sessions and drops cached tokens when the card is
removed, after --idle-timeout without a card operation, on 'pivauth agent lock', and on SIGHUP.
These act at once, even while a command is still asking for the PIN. A key with a touch policy
makes the requesting command print a notice to touch the card. Every operation, and every read or
store of a cached token, is recorded in the audit log ('pivauth audit') with the executable of the
process that asked for it; the purpose recorded is what that process declared.

The agent signs only what pivauth itself asks for (SHA-256/384/512 with RSA or ECDSA, Ed25519);
--allow-legacy-signatures lets other programs have MD5, SHA-1 or raw signatures made. It writes no
core dump and is not dumpable, so your other processes cannot read its memory; against a process
of yours that talks to its socket while it is unlocked, or against root, it protects no more than
ssh-agent does.`

const agentExample = `  # run the agent for this login session
  pivauth agent --idle-timeout 30m

  # as a systemd user service (~/.config/systemd/user/pivauth-agent.service):
  #   [Service]
  #   ExecStart=/usr/local/bin/pivauth agent
  #   ExecReload=/bin/kill -HUP $MAINPID
  # 'systemctl --user reload pivauth-agent' then locks it

  # lock it when you leave your desk
  pivauth agent lock`

// agentCommand is `pivauth agent` (serve) with its subcommands lock and status.
func (a *app) agentCommand() *cobra.Command {
	var idle time.Duration
	var legacy bool
	cmd := &cobra.Command{
		Use:     "agent",
		Short:   "Hold the card session and the PIN for other pivauth commands (PIN once per session)",
		Long:    agentLong,
		Example: agentExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAgent(cmd.Context(), idle, legacy)
		},
	}
	cmd.Flags().DurationVar(&idle, "idle-timeout", 15*time.Minute, "lock after this long without a card operation (`DURATION`; 0: never)")
	cmd.Flags().BoolVar(&legacy, "allow-legacy-signatures", false, "also sign what pivauth itself never asks for (MD5, SHA-1, SHA-224, raw RSA/ECDSA) for other programs of yours")
	cmd.AddCommand(a.agentLockCommand(), a.agentStatusCommand())
	return cmd
}

// runAgent serves until ctx ends (Ctrl-C, SIGTERM), locking on SIGHUP.
func (a *app) runAgent(ctx context.Context, idle time.Duration, legacySignatures bool) error {
	// The agent's children (pinentry) must not inherit a PIN it was started with, nor may
	// /proc/PID/environ show it; then no core dump and no ptrace by the user's other processes.
	envErr := signer.UnsetEnv()
	if err := agent.HardenProcess(); err != nil {
		return err
	}
	rec, err := openAuditLog()
	if err != nil {
		return err
	}
	path := agent.SocketPath()
	l, err := agent.Listen(path)
	if err != nil {
		return err
	}
	defer l.Close()

	level := slog.LevelInfo
	if a.opts.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: redactSecrets}))
	cfg := agent.Config{Backend: &card.Backend{Audit: rec}, Monitor: agent.PCSCMonitor{}, IdleTimeout: idle, Audit: rec, Log: logger,
		AllowLegacySignatures: legacySignatures}
	if a.opts.pinentry != "" {
		pe := &signer.PinentrySource{Program: a.opts.pinentry}
		cfg.FallbackPIN = func(ctx context.Context, req agent.PINRequest) ([]byte, error) {
			sreq, err := card.SignerPINRequest(req)
			if err != nil {
				return nil, err
			}
			return pe.PIN(ctx, sreq)
		}
	}
	srv := agent.NewServer(cfg)
	if envErr != nil {
		logger.Warn("PIVAUTH_PIN was unset but may still show in /proc/PID/environ", "error", envErr)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				logger.Info("SIGHUP: locking")
				srv.Lock("SIGHUP")
			case <-ctx.Done():
				return
			}
		}
	}()

	logger.Info("pivauth agent serving", "socket", path, "pid", os.Getpid(), "idle_timeout", idle, "audit_log", rec.Dir())
	if err := srv.Serve(ctx, l); err != nil {
		return err
	}
	logger.Info("pivauth agent stopped")
	return nil
}

func (a *app) agentLockCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "lock",
		Short:   "Make the running agent forget the PIN, card sessions and tokens",
		Example: "  pivauth agent lock",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.mustDialAgent(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Lock(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "agent locked: the next operation asks for the PIN again")
			return nil
		},
	}
}

func (a *app) agentStatusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether an agent runs, whether it is locked, and what it holds",
		Long: `Show whether an agent runs, whether it is locked, and what it holds.

Exit code: 0 when an agent runs, 3 when none does (it says so on stdout), 1 when the agent could
not be asked.`,
		Example: "  pivauth agent status --output json\n  pivauth agent status >/dev/null || echo \"no agent: start one with pivauth agent\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := agent.Dial(cmd.Context(), nil)
			if errors.Is(err, agent.ErrNoAgent) {
				err := a.emit(map[string]any{"running": false, "socket": agent.SocketPath()}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "agent:   not running (socket %s); start one with pivauth agent\n", agent.SocketPath())
					return err
				})
				if err != nil {
					return err
				}
				return &quietExit{code: ExitNoCard}
			}
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return a.emit(agentStatusJSON{Running: true, Status: st}, func(w io.Writer) error { writeAgentStatus(w, st); return nil })
		},
	}
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// agentStatusJSON is agent status --output json: whether an agent runs, and what it says of itself.
type agentStatusJSON struct {
	Running bool `json:"running"`
	*agent.Status
}

// writeAgentStatus prints the status for people.
func writeAgentStatus(w io.Writer, st *agent.Status) {
	state := "unlocked: holds a PIN"
	if st.Locked {
		state = "locked: holds no PIN (the next operation asks for it)"
	}
	fmt.Fprintf(w, "agent:   pid %d, %s\nsocket:  %s\n", st.PID, state, agent.SocketPath())
	for _, k := range st.Keys {
		pin := "no PIN yet"
		if k.PINHeld {
			pin = "PIN held"
		}
		card := k.CardName // as prompts name it; an agent of an older release sends only the id
		if card == "" {
			card = dash(k.Card)
		}
		fmt.Fprintf(w, "key:     slot %s of %s in %q, %s\n", k.Ref.Slot, card, k.Reader, pin)
	}
	fmt.Fprintf(w, "tokens:  %d cached\n", st.Tokens)
	switch {
	case st.IdleTimeout <= 0:
		fmt.Fprintln(w, "idle:    never locks when idle")
	case !st.IdleLock.IsZero():
		fmt.Fprintf(w, "idle:    locks at %s if unused (timeout %s)\n", st.IdleLock.Local().Format("15:04:05"), st.IdleTimeout)
	default:
		fmt.Fprintf(w, "idle:    timeout %s\n", st.IdleTimeout)
	}
}

// agentForgetSlot tells a running agent that slot ("" for every slot) of the card id changes (a
// new key or certificate), so that it closes its sessions of the slot instead of refusing every
// command with the old key until it is locked; closing all of the card's sessions also frees the
// card for the YubiKey management interface, which needs it to itself. No agent: nothing to do. A
// failure is only reported: the agent refuses a changed key by itself.
func (a *app) agentForgetSlot(ctx context.Context, id piv.Identity, slot string) {
	c, err := agent.Dial(ctx, nil)
	if errors.Is(err, agent.ErrNoAgent) {
		return
	}
	if err == nil {
		defer c.Close()
		var n int
		if n, err = c.Forget(ctx, card.CardID(id), id.Reader, slot); err == nil {
			a.log.Debug("the agent closed its sessions of the changed slot", "slot", slot, "sessions", n)
			return
		}
	}
	fmt.Fprintf(a.stderr, "warning: could not tell the pivauth agent that the card's keys changed (%v): run `pivauth agent lock`\n", err)
}

// mustDialAgent connects to the running agent for the agent's own subcommands, where no agent
// is an error rather than a cue to use the card.
func (a *app) mustDialAgent(ctx context.Context) (*agent.Client, error) {
	c, err := agent.Dial(ctx, nil)
	if errors.Is(err, agent.ErrNoAgent) {
		return nil, fmt.Errorf("%w (socket %s); start one with `pivauth agent`", err, agent.SocketPath())
	}
	return c, err
}

// dialAgent connects to the running agent for a command that needs the card, with pins as the
// source the agent's PIN prompts are answered from. It returns (nil, nil) when no agent runs: the
// command then opens the card itself.
func (a *app) dialAgent(ctx context.Context, pins signer.PINSource) (*agent.Client, error) {
	c, err := agent.Dial(ctx, agentPrompter{pins: pins, stderr: a.stderr})
	if errors.Is(err, agent.ErrNoAgent) {
		a.log.Debug("no pivauth agent; using the card directly", "socket", agent.SocketPath())
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.log.Debug("using the pivauth agent", "pid", c.PID())
	// The agent's card errors match the signer's, so the exit codes and the lockout guard's hint
	// are the same as without the agent.
	c.SetRemoteErrors(card.FromAgent)
	return c, nil
}

// agentPrompter answers the agent's questions on the requesting command's side: the PIN from
// the command's own PIN sources (terminal, --pin-file, PIVAUTH_PIN, pinentry), the touch notice on
// its stderr.
type agentPrompter struct {
	pins   signer.PINSource
	stderr io.Writer
}

// PIN asks the command's PIN source on the agent's behalf. A source that has no way to ask here
// (no terminal, no PIN file) leaves it to the agent's pinentry, if it has one.
func (p agentPrompter) PIN(ctx context.Context, req agent.PINRequest) ([]byte, error) {
	sreq, err := card.SignerPINRequest(req)
	if err != nil {
		return nil, err
	}
	pin, err := p.pins.PIN(ctx, sreq)
	if errors.Is(err, signer.ErrNoPIN) {
		return nil, fmt.Errorf("%w: %w", agent.ErrCannotPrompt, err)
	}
	return pin, err
}

// AsksPerson reports whether a person typed the PIN given last (agent.Typist): the agent asks
// again at this terminal when the card refuses it, never for a PIN from a file or PIVAUTH_PIN.
func (p agentPrompter) AsksPerson() bool {
	t, ok := p.pins.(signer.Interactive)
	return ok && t.AsksPerson()
}

// Touch prints the touch notice.
func (p agentPrompter) Touch() { touchNotice(p.stderr) }

// openAuditLog opens the audit log every private-key operation of this process is recorded in.
func openAuditLog() (*audit.Log, error) {
	dir, err := audit.DefaultDir()
	if err != nil {
		return nil, err
	}
	return audit.Open(dir, 0, 0)
}

// agentExitCode maps the agent's errors to exit codes: the class the agent reported for a failed
// operation, or a PIN nobody could type.
func agentExitCode(err error) (int, bool) {
	if errors.Is(err, agent.ErrNeedPIN) || errors.Is(err, agent.ErrCannotPrompt) {
		return ExitPIN, true
	}
	var re *agent.RemoteError
	if !errors.As(err, &re) {
		return 0, false
	}
	switch re.Class {
	case audit.ResultPINIncorrect, audit.ResultPINBlocked, audit.ResultPINLastTry, audit.ResultNoPIN:
		return ExitPIN, true
	case audit.ResultCardRemoved, audit.ResultNoCard, audit.ResultKeyChanged:
		return ExitNoCard, true
	case audit.ResultCanceled:
		return ExitInterrupted, true
	case audit.ResultAmbiguous:
		return ExitUsage, true
	}
	return ExitError, true
}
