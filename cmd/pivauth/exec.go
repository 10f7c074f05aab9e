package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	var extraEnv []string
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
Entra live about an hour.`,
		Example: `  # Exchange Online in PowerShell, the token never on a command line
  pivauth exec --profile exo -- pwsh -NoExit -Command \
      'Connect-ExchangeOnline -AccessToken $env:PIVAUTH_ACCESS_TOKEN -Organization contoso.onmicrosoft.com'

  # Microsoft Graph PowerShell
  pivauth exec --profile graph -- pwsh -Command \
      'Connect-MgGraph -AccessToken (ConvertTo-SecureString $env:PIVAUTH_ACCESS_TOKEN -AsPlainText -Force)'

  # a tool that reads its token from a variable of its own
  pivauth exec --profile api --env API_TOKEN -- ./deploy.sh`,
		Args: cobra.MinimumNArgs(1),
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
			child := exec.Command(args[0], args[1:]...)
			child.Env = env
			child.Stdin, child.Stdout, child.Stderr = a.stdin, a.stdout, a.stderr
			a.log.Debug("exec", "command", args[0], "expires_on", tok.ExpiresOn)
			// Not CommandContext: Ctrl-C reaches the command through the terminal, and the command
			// decides how to end; pivauth waits for it and reports its exit code.
			err = child.Run()
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
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringSliceVar(&extraEnv, "env", nil, "also put the token in the environment variable `NAME` (repeatable)")
	return cmd
}

// childEnv is our environment without the PIN and without the variables exec sets.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case signer.PINEnv, envAccessToken, envTokenType, envExpiresOn:
			continue
		}
		out = append(out, kv)
	}
	return out
}
