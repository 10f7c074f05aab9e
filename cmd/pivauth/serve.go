package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/flows/managedidentity"
)

// endpointFlags are the flags of the managed-identity endpoint, shared by serve and exec.
type endpointFlags struct {
	listen    string
	listenAny bool
}

func (f *endpointFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:0", "managed-identity endpoint: listen on `ADDRESS` (host:port; port 0 picks a free one)")
	cmd.Flags().BoolVar(&f.listenAny, "listen-any", false, "managed-identity endpoint: allow a --listen address that is not loopback (other machines can then reach it)")
}

// address checks --listen before anything else is done: a loopback address (or localhost), or any
// address with --listen-any, which is then warned about. A missing port is a free one.
func (f *endpointFlags) address(a *app) (string, error) {
	host, port, err := net.SplitHostPort(f.listen)
	if err != nil {
		host, port = f.listen, "0"
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		if !f.listenAny {
			return "", usageErrorf("--listen %s is not a loopback address: whoever reaches the endpoint with its secret gets tokens of the card's app; listen on 127.0.0.1, or give --listen-any to listen there anyway", f.listen)
		}
		fmt.Fprintf(a.stderr, "pivauth: warning: the managed-identity endpoint listens on %s, which other machines may reach: the secret is all that stands between them and the card's tokens, and it travels unencrypted (http)\n", f.listen)
	}
	return net.JoinHostPort(host, port), nil
}

// miEndpoint is a running managed-identity endpoint whose tokens the card's app gets.
type miEndpoint struct {
	url, secret string
	key         cardKey
	srv         *http.Server
	served      chan error
}

// startEndpoint opens the card (through the agent when one runs), builds the Entra client as
// `pivauth token` does and serves the managed-identity protocol on --listen. Usage errors come
// before any card operation.
func (a *app) startEndpoint(ctx context.Context, f *idpFlags, ef *endpointFlags) (*miEndpoint, error) {
	kind, err := f.kind()
	if err != nil {
		return nil, err
	}
	if kind != "entra" {
		return nil, usageErrorf("--managed-identity serves Entra ID tokens: give --tenant or --authority, not --issuer")
	}
	addr, err := ef.address(a)
	if err != nil {
		return nil, err
	}
	secret, err := managedidentity.NewSecret()
	if err != nil {
		return nil, err
	}
	key, err := a.openSigner(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.newClient(ctx, f, key)
	if err != nil {
		key.Close()
		return nil, err
	}
	h, err := managedidentity.New(managedidentity.Options{
		Secret:   secret,
		ClientID: f.clientID,
		Token:    func(ctx context.Context, scope string) (cache.Token, error) { return c.Token(ctx, scope) },
		Explain:  explainForClient,
		AnyHost:  ef.listenAny,
		Log:      a.log,
	})
	if err != nil {
		key.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		key.Close()
		return nil, withCode(ExitUsage, fmt.Errorf("--listen %s: %w", ef.listen, err))
	}
	tcp := ln.Addr().(*net.TCPAddr)
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	e := &miEndpoint{
		url:    "http://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port)) + managedidentity.Path,
		secret: secret,
		key:    key,
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { e.served <- e.srv.Serve(ln) }()
	a.log.Debug("managed-identity endpoint", "url", e.url, "client_id", f.clientID, "authority", c.entra.Authority())
	return e, nil
}

// environment is what a client needs: both protocol versions' variables.
func (e *miEndpoint) environment() []string { return managedidentity.Environment(e.url, e.secret) }

// stop ends the endpoint: requests in progress finish (within a few seconds), then the card key
// is closed.
func (e *miEndpoint) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	e.key.Close()
}

// explainForClient is what an SDK shows its user when the endpoint has no token: the OAuth error
// of Entra's answer, or a class of the card's failure, and pivauth's own message with its remedy.
func explainForClient(err error) managedidentity.Failure {
	code := "token_unavailable"
	var ee *entra.Error
	switch exitCode(context.Background(), err) {
	case ExitRejected:
		code = "rejected"
		if errors.As(err, &ee) && ee.OAuthError != "" {
			code = ee.OAuthError
		}
	case ExitPIN:
		code = "card_pin"
	case ExitNoCard:
		code = "card_unavailable"
	case ExitNetwork:
		code = "network_error"
	}
	return managedidentity.Failure{Code: code, Description: "pivauth: " + err.Error() + fixSuffix(err)}
}

const serveLong = `Serve the Azure managed-identity protocol on a local endpoint, with the certificate on the card as
the app's credential: the Azure SDKs and tools that know the App Service managed identity (Azure
CLI, Azure PowerShell, DefaultAzureCredential in Python, JavaScript, .NET and Go) get Entra tokens
from it without a change. For each resource asked for, the card signs a client assertion (PIN
policy, lockout guard and audit as for 'pivauth token'), and the token is served again, without
the card, until 5 minutes before it expires: one card signature per resource per token lifetime.

Once listening, serve prints the environment a client needs, as lines a shell can eval:

  IDENTITY_ENDPOINT, IDENTITY_HEADER   App Service 2019-08-01 (azidentity, @azure/identity, MSAL)
  MSI_ENDPOINT, MSI_SECRET             App Service 2017-09-01 (Azure CLI, older SDKs)
  APPSETTING_WEBSITE_SITE_NAME         tells Azure CLI (msrestazure) to use the App Service protocol

and serves until Ctrl-C or SIGTERM. With --detach it goes on in the background once the
environment is printed (with PIVAUTH_SERVE_PID, to kill it), so that eval "$(pivauth serve
--managed-identity … --detach)" works as with ssh-agent; having no terminal then, it takes the PIN
from 'pivauth agent', --pin-file, PIVAUTH_PIN or a graphical --pinentry.

Resources are asked for as resource=R or as its scope R/.default. The endpoint serves one
identity, the app of --client-id: a request naming another (client_id, principal_id, object_id,
mi_res_id) is refused.

Security: the endpoint listens on loopback only (another address needs --listen-any); each
request must carry the secret (32 random bytes, new for each run), and requests from web pages
(an Origin header) or under a non-loopback Host name are refused; a refused request costs no card
operation. Each signature's audit record names the resource and, on Linux, the executable of the
process that asked. With 'pivauth agent' running the card is used through it (PIN once).

Errors reach the SDK as JSON ("error", "error_description": pivauth's message and what to do)
with status 400, 401 or 403, which the SDKs report at once instead of retrying.`

const serveExample = `  # as ssh-agent: the endpoint in the background, its environment in this shell
  eval "$(pivauth serve --managed-identity --profile arm --detach)"
  az login --identity
  kill $PIVAUTH_SERVE_PID

  # in a terminal of its own (the PIN is asked there); Ctrl-C to stop
  pivauth serve --managed-identity --profile arm

  # for one command, the endpoint alive while it runs
  pivauth exec --managed-identity --profile arm -- python3 app.py`

func (a *app) serveCommand() *cobra.Command {
	var f idpFlags
	var ef endpointFlags
	var managedIdentity, detach, detachedChild bool
	cmd := &cobra.Command{
		Use:     "serve --managed-identity [token flags]",
		Short:   "Serve the Azure managed-identity protocol locally, the card as the credential",
		Long:    serveLong,
		Example: serveExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !managedIdentity {
				return usageErrorf("say what to serve: pivauth serve --managed-identity")
			}
			if detach {
				return a.serveDetached()
			}
			ctx := cmd.Context()
			e, err := a.startEndpoint(ctx, &f, &ef)
			if err != nil {
				return err
			}
			defer e.stop()
			for _, kv := range e.environment() {
				if _, err := fmt.Fprintf(a.stdout, "export %s\n", kv); err != nil {
					return err
				}
			}
			if detachedChild {
				fmt.Fprintf(a.stdout, "export %s=%d\n", envServePID, os.Getpid())
				fmt.Fprintf(a.stderr, "pivauth: managed-identity endpoint %s serving app %s; stop it with kill $%s\n", e.url, f.clientID, envServePID)
				if err := detachStdio(); err != nil {
					return err
				}
				a.stdout, a.stderr = io.Discard, io.Discard
			} else {
				fmt.Fprintf(a.stderr, "pivauth: managed-identity endpoint %s serving app %s; Ctrl-C to stop\n", e.url, f.clientID)
			}
			select {
			case <-ctx.Done():
				return nil
			case err := <-e.served:
				return err
			}
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&f.noCache, "no-cache", false, "keep tokens only in this endpoint's memory, not in the token cache or the agent")
	cmd.Flags().BoolVar(&managedIdentity, "managed-identity", false, "serve the App Service managed-identity protocol (IDENTITY_ENDPOINT, MSI_ENDPOINT)")
	cmd.Flags().BoolVar(&detach, "detach", false, "serve in the background, as ssh-agent does, once the environment is printed (for eval; stop with kill $"+envServePID+"); the PIN then comes from the agent, --pin-file, PIVAUTH_PIN or --pinentry")
	cmd.Flags().BoolVar(&detachedChild, detachedChildFlag, false, "")
	_ = cmd.Flags().MarkHidden(detachedChildFlag)
	ef.register(cmd)
	return cmd
}

// envServePID names the process of a detached endpoint in the printed environment.
const envServePID = "PIVAUTH_SERVE_PID"

// detachedChildFlag marks the process `serve --detach` starts: it serves, and leaves its
// standard streams once it has printed the environment.
const detachedChildFlag = "detached-child"

// serveDetached starts this same serve command again as a process of its own session and relays
// what it prints until it has printed the environment (then it serves on, detached) or ended (its
// error and exit code become ours). A command substitution — eval "$(pivauth serve …
// --detach)" — then ends while the endpoint lives on.
func (a *app) serveDetached() error {
	attr, err := detachedProcess()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var args []string
	for _, arg := range os.Args[1:] {
		if arg != "--detach" && !strings.HasPrefix(arg, "--detach=") {
			args = append(args, arg)
		}
	}
	child := exec.Command(exe, append(args, "--"+detachedChildFlag)...)
	child.SysProcAttr = attr
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := child.StderrPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	relayed := make(chan struct{})
	go func() { _, _ = io.Copy(a.stderr, stderr); close(relayed) }()
	env, _ := io.ReadAll(stdout) // until the child leaves its stdout: detached, or ended
	<-relayed
	if !bytes.Contains(env, []byte("export "+envServePID+"=")) {
		err := child.Wait()
		if code := child.ProcessState.ExitCode(); code > 0 {
			return &childExit{code: code} // the child has said why on the stderr we relayed
		}
		return fmt.Errorf("the detached endpoint ended before it served: %v", err)
	}
	_ = child.Process.Release()
	_, err = a.stdout.Write(env)
	return err
}
