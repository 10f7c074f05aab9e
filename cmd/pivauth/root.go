package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/internal/netsafe"
	"github.com/pivauth/pivauth/signer/purpose"
)

// globalOptions are the flags every command accepts (persistent flags of the root command).
type globalOptions struct {
	reader   string        // PC/SC reader name
	serial   uint32        // YubiKey serial number
	guid     string        // PIV card GUID (CHUID), hex
	slot     string        // key slot, e.g. 9a
	pinFile  string        // file holding the PIN (first line)
	pinentry string        // pinentry program to ask for the PIN
	output   string        // output format; each command says which it accepts
	profile  string        // profile name in the configuration file
	config   string        // configuration file path (default: XDG config dir)
	verbose  bool          // debug log to stderr
	timeout  time.Duration // how long to wait for a card to be inserted
	// httpTimeout bounds each HTTP exchange (identity provider, request).
	httpTimeout time.Duration
	// allowLastTry lets pivauth present a PIN (or PUK) when the card has one try left.
	allowLastTry bool
	// traceAPDUs is --trace-apdus: the file every APDU of the command goes to, redacted.
	traceAPDUs string
}

// app holds the state of one invocation: streams, global options, the resolved profile and the
// logger. Commands are methods on it so that tests can run them in-process as well as built.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	opts           globalOptions
	profile        Profile // resolved profile (empty when none is configured or named)
	log            *slog.Logger
	started        bool // PersistentPreRunE ran: any error after that is not a usage error
	// format is the running command's --output, or its default; PersistentPreRunE sets it once
	// it has checked that the command offers it.
	format string
	trace  *apduTrace // the --trace-apdus file, once a card was opened (trace.go)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.DiscardHandler)}
}

const rootLong = `pivauth gets tokens and TLS sessions for Microsoft Entra ID, any OAuth 2.0 / OpenID Connect
provider and any mutual-TLS service with a certificate whose private key never leaves a PIV smart
card (a YubiKey or a government PIV/CAC card).

Selecting the card: with one card present nothing needs saying; otherwise --reader, --serial
(YubiKey) or --guid (PIV card GUID) picks it, or pivauth asks on the terminal. A command that needs
a card and finds none asks you to insert one and waits (see --timeout).

The PIN is asked on the terminal, without echo, naming the card, the slot and the tries left; a
wrong PIN typed there is asked again while the lockout guard allows (never one from a file or the
environment). For unattended use: --pin-file FILE, the PIVAUTH_PIN environment variable, or a pinentry program
(--pinentry). The PIN is never taken from the command line. Without a terminal and without a PIN
source, a command that needs the PIN fails at once (exit code 4). With 'pivauth agent' running, the
PIN is asked once per working session, and the agent serves the card to every later command.
Every use of the card's key is recorded in the audit log ('pivauth audit').

Named profiles in the configuration file hold tenant or issuer, client id, scopes, card and slot;
flags override them. See 'pivauth help config', 'pivauth help environment' and
'pivauth help exit-codes'.`

const rootExample = `  # which cards and certificates are there?
  pivauth cards
  pivauth certs --output pem > app.pem

  # an app-only token for Exchange Online (Entra), PIN typed on the terminal
  pivauth token --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 \
      --scope https://outlook.office365.com/.default

  # the same from a profile, for a PowerShell session that gets the token in its environment
  pivauth exec --profile exo -- pwsh`

// rootCommand builds the command tree.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "pivauth",
		Short:         "Tokens and mTLS with a key that never leaves your PIV card",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Version is set so that `pivauth --version` works too; `pivauth version` says more.
		Version: versionString(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.started = true
			a.setupLogging()
			// Every signature the command makes is recorded in the audit log as made for it.
			cmd.SetContext(purpose.With(cmd.Context(), purpose.Purpose{Command: topCommand(cmd).Name()}))
			// Every command refuses an --output it does not offer, before doing anything.
			format, err := a.outputFormat(cmd)
			if err != nil {
				return err
			}
			a.format = format
			if a.opts.httpTimeout <= 0 {
				return usageErrorf("--http-timeout %s: give a duration above zero, e.g. 30s", a.opts.httpTimeout)
			}
			if !skipsProfile(cmd) {
				if err := a.loadProfile(cmd); err != nil {
					return err
				}
			}
			return a.checkCardInputs(cmd)
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(ExitUsage, err) })
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetHelpCommand(helpCommand())
	root.SetHelpFunc(helpWithApplicableFlags(root.HelpFunc()))

	f := root.PersistentFlags()
	f.StringVar(&a.opts.reader, "reader", "", "PC/SC reader `NAME` of the card to use")
	f.Uint32Var(&a.opts.serial, "serial", 0, "YubiKey serial `NUMBER` of the card to use")
	f.StringVar(&a.opts.guid, "guid", "", "PIV card `GUID` (hex, from the CHUID) of the card to use")
	f.StringVar(&a.opts.slot, "slot", "9a", "key `SLOT`: 9a, 9c, 9d, 9e or a retired slot 82..95")
	f.StringVar(&a.opts.pinFile, "pin-file", "", "read the PIN from the first line of `FILE` (keep it mode 0600)")
	f.StringVar(&a.opts.pinentry, "pinentry", "", "ask for the PIN with this pinentry `PROGRAM` (e.g. pinentry-gnome3)")
	f.StringVar(&a.opts.output, "output", "", "output `FORMAT`; each command lists the formats it accepts")
	f.StringVarP(&a.opts.profile, "profile", "p", "", "use the named `PROFILE` from the configuration file")
	f.StringVar(&a.opts.config, "config", "", "configuration `FILE` (default $XDG_CONFIG_HOME/pivauth/config.json)")
	f.BoolVarP(&a.opts.verbose, "verbose", "v", false, "log what happens to stderr (never a PIN or a token)")
	f.StringVar(&a.opts.traceAPDUs, "trace-apdus", "", apduTraceHelp)
	f.DurationVar(&a.opts.timeout, "timeout", 0, "how long to wait for a card to be inserted (`DURATION`, e.g. 30s); "+
		"0: until Ctrl-C on a terminal, not at all without one")
	f.DurationVar(&a.opts.httpTimeout, "http-timeout", netsafe.DefaultTimeout, "how long one HTTP exchange (identity provider, 'request') may take before it fails (`DURATION`)")
	f.BoolVar(&a.opts.allowLastTry, "allow-last-try", false, "present the PIN (or PUK) even when the card has only one try left (lockout guard off; uses the card directly, not the agent)")
	_ = root.RegisterFlagCompletionFunc("slot", completeSlots)
	_ = root.RegisterFlagCompletionFunc("output", completeOutput)
	_ = root.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, _, err := a.readConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return profileNames(cfg), cobra.ShellCompDirectiveNoFileComp
	})

	root.AddCommand(
		noProfile(a.versionCommand()),
		a.manCommand(),
		a.profileCommand(),
		a.auditCommand(),
		a.agentCommand(),
		a.cardsCommand(),
		a.certsCommand(),
		a.pinCommand(),
		a.setupCommand(),
		a.resetCommand(),
		a.tokenCommand(),
		a.assertionCommand(),
		a.loginCommand(),
		a.execCommand(),
		a.serveCommand(),
		a.requestCommand(),
		a.doctorCommand(),
		exitCodesTopic(),
		environmentTopic(),
		configTopic(),
	)
	return root
}

// topCommand is the command below the root that cmd belongs to: setup for `pivauth setup csr`.
// The audit log names commands by it.
func topCommand(cmd *cobra.Command) *cobra.Command {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd
}

// annotationProfile set to "none" on a command keeps the configuration file out of it: version,
// completion and the profile commands must work while the file is broken, to help fix it.
const annotationProfile = "profile"

// noProfile marks cmd (and returns it) as one that does not read the configuration file.
func noProfile(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationProfile] = "none"
	return cmd
}

// skipsProfile reports commands that do not read the configuration file: those marked with
// noProfile, and cobra's own completion commands (shell scripts and __complete).
func skipsProfile(cmd *cobra.Command) bool {
	if cmd.Annotations[annotationProfile] == "none" || strings.HasPrefix(cmd.Name(), "__") {
		return true
	}
	return cmd.Parent() != nil && cmd.Parent().Name() == "completion"
}

// setupLogging turns on the debug log on stderr when --verbose is given. It also becomes the
// default slog logger, so the libraries' own debug records appear with ours.
func (a *app) setupLogging() {
	if !a.opts.verbose {
		return
	}
	h := slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redactSecrets})
	a.log = slog.New(h)
	slog.SetDefault(a.log)
}

// secretKeys are attribute keys whose values never reach the log, whoever logs them. We do not log
// secrets ourselves; this catches a library or a future change that would.
var secretKeys = []string{"pin", "puk", "token", "assertion", "secret", "password", "management_key", "authorization"}

// redactSecrets replaces the value of any attribute whose key names a secret.
func redactSecrets(_ []string, attr slog.Attr) slog.Attr {
	k := strings.ToLower(attr.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return slog.String(attr.Key, "[redacted]")
		}
	}
	return attr
}

// report prints err (if any) on stderr and returns the exit code for it. Errors raised before a
// command started running (unknown command or flag, wrong number of arguments) are usage errors.
func (a *app) report(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	code := exitCode(ctx, err)
	if !a.started && code == ExitError {
		code = ExitUsage
	}
	var child *childExit
	var quiet *quietExit
	if errors.As(err, &child) || errors.As(err, &quiet) {
		return code
	}
	if code == ExitInterrupted {
		fmt.Fprintln(a.stderr, "pivauth: interrupted")
		return code
	}
	fmt.Fprintf(a.stderr, "pivauth: %s%s\n", netsafe.Printable(err.Error()), a.timeoutHint(err))
	if fix := remedy(err); fix != "" {
		fmt.Fprintf(a.stderr, "  fix: %s\n", netsafe.Printable(fix))
	}
	if code == ExitUsage && !a.started {
		fmt.Fprintln(a.stderr, "Run 'pivauth --help' for usage.")
	}
	return code
}

// setOutputFormats declares the --output formats cmd accepts (the first is the default) in the
// command's annotations, where completion, help and validation read them.
func setOutputFormats(cmd *cobra.Command, formats ...string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations["output"] = strings.Join(formats, "|")
	if cmd.Long == "" {
		cmd.Long = cmd.Short + "."
	}
	cmd.Long += fmt.Sprintf("\n\n--output: %s (default), %s.", formats[0], strings.Join(formats[1:], ", "))
}

// completeOutput offers the formats of the command being completed.
func completeOutput(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return formatsOf(cmd), cobra.ShellCompDirectiveNoFileComp
}

// formatsOf returns the --output formats cmd accepts; "text" for a command that declares none.
func formatsOf(cmd *cobra.Command) []string {
	if cmd.Annotations != nil && cmd.Annotations["output"] != "" {
		return strings.Split(cmd.Annotations["output"], "|")
	}
	return []string{"text"}
}

// oldTextNames are the names the default format "text" had on some commands before it had one
// name everywhere; they are still accepted there, for scripts and profiles that use them.
var oldTextNames = map[string]string{"token": "raw", "assertion": "raw", "login": "raw", "audit": "table"}

// outputFormat returns the --output value for cmd, or the command's default, and refuses formats
// the command does not offer.
func (a *app) outputFormat(cmd *cobra.Command) (string, error) {
	formats := formatsOf(cmd)
	if a.opts.output == "" {
		return formats[0], nil
	}
	for _, f := range formats {
		if a.opts.output == f || a.opts.output == oldTextNames[cmd.Name()] && f == "text" {
			return f, nil
		}
	}
	return "", usageErrorf("%s: --output %q is not offered; choose one of: %s", cmd.CommandPath(), a.opts.output, strings.Join(formats, ", "))
}

// timeoutHint points at --http-timeout when err is an HTTP exchange that ran out of time.
func (a *app) timeoutHint(err error) string {
	var te *netsafe.TimeoutError
	var ue *url.Error
	if errors.As(err, &te) || (errors.As(err, &ue) && ue.Timeout()) {
		return fmt.Sprintf(" (no answer within --http-timeout %s: raise it for a slow server)", a.opts.httpTimeout)
	}
	return ""
}
