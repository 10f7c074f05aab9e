package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/managedidentity"
	"github.com/pivauth/pivauth/signer"
)

// Environment variables `pivauth exec` gives the command.
const (
	envAccessToken = "PIVAUTH_ACCESS_TOKEN"
	envTokenType   = "PIVAUTH_TOKEN_TYPE"
	envExpiresOn   = "PIVAUTH_EXPIRES_ON"
)

func (a *app) execCommand() *cobra.Command {
	var f idpFlags
	var ef endpointFlags
	var extraEnv []string
	var managedIdentity bool
	cmd := &cobra.Command{
		Use:   "exec [token flags] -- COMMAND [ARG...]",
		Short: "Run a command with an access token in its environment",
		Long: `Get a token as 'pivauth token' does and run COMMAND with it in the environment:

  PIVAUTH_ACCESS_TOKEN   the access token
  PIVAUTH_TOKEN_TYPE     its type (Bearer)
  PIVAUTH_EXPIRES_ON     its expiry (RFC 3339)

and under each --env NAME as well. The token is never put on the command line, where other users
could read it in the process list. PIVAUTH_PIN is removed from the command's environment. pivauth
exits with the command's exit code. The token is not renewed while the command runs: tokens from
Entra live about an hour.

With --managed-identity (Entra ID) the command gets no token but a managed-identity endpoint
instead, as 'pivauth serve --managed-identity' serves it (IDENTITY_ENDPOINT, IDENTITY_HEADER,
MSI_ENDPOINT, MSI_SECRET, APPSETTING_WEBSITE_SITE_NAME), alive until the command ends: the Azure
SDKs and tools in it ask for the resources they need, each token fresh however long it runs.`,
		Example: `  # Exchange Online in PowerShell, the token never on a command line
  pivauth exec --profile exo -- pwsh -NoExit -Command \
      'Connect-ExchangeOnline -AccessToken $env:PIVAUTH_ACCESS_TOKEN -Organization contoso.onmicrosoft.com'

  # Microsoft Graph PowerShell
  pivauth exec --profile graph -- pwsh -Command \
      'Connect-MgGraph -AccessToken (ConvertTo-SecureString $env:PIVAUTH_ACCESS_TOKEN -AsPlainText -Force)'

  # a tool that reads its token from a variable of its own
  pivauth exec --profile api --env API_TOKEN -- ./deploy.sh

  # Azure CLI or any program on DefaultAzureCredential, the card behind it
  pivauth exec --managed-identity --profile arm -- az login --identity
  pivauth exec --managed-identity --profile arm -- python3 app.py`,
		Args: positional(1, -1, "the command after --", "pivauth exec -- az account show"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageErrorf("put the command after --: pivauth exec [flags] -- %s", strings.Join(args, " "))
			}
			for _, name := range extraEnv {
				if name == "" || strings.ContainsAny(name, "= \x00") {
					return usageErrorf("--env %q is not a variable name", name)
				}
			}
			ctx := cmd.Context()
			if !managedIdentity && (cmd.Flags().Changed("listen") || cmd.Flags().Changed("listen-any")) {
				return usageErrorf("--listen and --listen-any go with --managed-identity")
			}
			if managedIdentity {
				return a.execManagedIdentity(cmd, &f, &ef, args)
			}
			s, tok, err := a.getToken(ctx, &f)
			if err != nil {
				return err
			}
			s.Close() // the card is not needed while the command runs
			env := childEnv(os.Environ())
			tokenType := tok.TokenType
			if tokenType == "" {
				tokenType = "Bearer"
			}
			env = append(env, envAccessToken+"="+tok.AccessToken, envTokenType+"="+tokenType, envExpiresOn+"="+tok.ExpiresOn.UTC().Format(time.RFC3339))
			for _, name := range extraEnv {
				env = append(env, name+"="+tok.AccessToken)
			}
			a.log.Debug("exec", "command", args[0], "expires_on", tok.ExpiresOn)
			return a.runChild(args, env)
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringSliceVar(&extraEnv, "env", nil, "also put the token in the environment variable `NAME` (repeatable)")
	cmd.Flags().BoolVar(&managedIdentity, "managed-identity", false, "instead of one token, give COMMAND a managed-identity endpoint (IDENTITY_ENDPOINT, MSI_ENDPOINT) alive while it runs: see 'pivauth serve --help'")
	ef.register(cmd)
	return cmd
}

// runChild runs the command args with env, its standard streams ours, and returns nil or the
// command's exit code (childExit).
func (a *app) runChild(args, env []string) error {
	child := exec.Command(args[0], args[1:]...)
	child.Env = env
	child.Stdin, child.Stdout, child.Stderr = a.stdin, a.stdout, a.stderr
	// Not CommandContext: Ctrl-C reaches the command through the terminal, and the command
	// decides how to end; pivauth waits for it and reports its exit code.
	err := child.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		code := exitErr.ExitCode()
		if code < 0 { // killed by a signal
			code = ExitInterrupted
		}
		return &childExit{code: code}
	}
	return fmt.Errorf("running %s: %w", args[0], err)
}

// execManagedIdentity runs the command with a managed-identity endpoint in its environment, the
// endpoint serving until the command ends, so that tokens are fresh however long it runs.
func (a *app) execManagedIdentity(cmd *cobra.Command, f *idpFlags, ef *endpointFlags, args []string) error {
	for _, name := range []string{"scope", "env", "resource", "bound"} {
		if cmd.Flags().Changed(name) {
			return usageErrorf("--%s does not go with --managed-identity: the command asks the endpoint for the resources it needs", name)
		}
	}
	e, err := a.startEndpoint(cmd.Context(), f, ef)
	if err != nil {
		return err
	}
	defer e.stop()
	env := append(childEnv(os.Environ()), e.environment()...)
	a.log.Debug("exec", "command", args[0], "managed_identity_endpoint", e.url)
	return a.runChild(args, env)
}

// childEnv is our environment without the PIN and without the variables exec sets (or that
// would steer an SDK away from the managed-identity endpoint it sets).
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case signer.PINEnv, envAccessToken, envTokenType, envExpiresOn:
			continue
		}
		if slices.Contains(managedidentity.EnvironmentNames, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
