package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// httpStatusError is an HTTP error status with --fail: the server refused the request.
type httpStatusError struct {
	url    string
	status string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("%s answered %s", e.url, e.status) }

// requestFlags are the curl-like flags of `pivauth request`.
type requestFlags struct {
	method  string
	headers []string
	data    string
	out     string
	fail    bool
	include bool
	bearer  bool
	// insecure is curl's -k/--insecure, refused.
	insecure bool
}

func (a *app) requestCommand() *cobra.Command {
	var f idpFlags
	var r requestFlags
	cmd := &cobra.Command{
		Use:   "request URL",
		Short: "Make an HTTPS request with the card as TLS client certificate (and/or a bearer token)",
		Long: `Make an HTTPS request, curl-like, presenting the card's certificate when the server asks for a
client certificate (mutual TLS; the card signs once per TLS session). With --bearer, also send an
access token got as 'pivauth token' does (the token flags or a profile name the provider); with
--bound and an OIDC provider the token is certificate-bound and sent over the same TLS identity.

Trust: the system roots, plus SSL_CERT_FILE, plus --ca-file. There is no switch to skip server
certificate verification.

Redirects: followed within the origin (scheme, host and port) of URL with the token and the card's
certificate. A redirect to another origin is followed without them: no Authorization header (as
curl does), no client certificate. A redirect from https to http is refused (exit code 6). Each
exchange, redirects and body included, must finish within --http-timeout (default 30s).

The response body goes to stdout (or -o FILE); -i adds the status line and headers; -f makes an
HTTP status of 400 or more exit with code 5.`,
		Example: `  pivauth request https://api.internal.example/v1/status
  pivauth request -X POST -H "Content-Type: application/json" -d @job.json https://api.internal.example/v1/jobs
  pivauth request --bearer --profile graph https://graph.microsoft.com/v1.0/organization -o org.json`,
		Args: positional(1, 1, "the URL to request", "pivauth request https://api.example.com/v1/status"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.insecure {
				return usageErrorf("-k/--insecure: pivauth has no insecure mode; trust the server's CA with --ca-file FILE (PEM) or SSL_CERT_FILE")
			}
			ctx := cmd.Context()
			req, err := r.build(ctx, args[0], a.stdin)
			if err != nil {
				return err
			}
			var httpClient *http.Client
			if r.bearer {
				s, c, err := a.bearerClient(ctx, &f)
				if err != nil {
					return err
				}
				defer s.Close()
				httpClient, err = a.resourceClient(ctx, c, &f)
			} else {
				// The card is opened (and its PIN asked for) only when the server asks for a
				// client certificate: a request to a server that does not touches no card.
				var opened cardKey
				defer func() {
					if opened != nil {
						opened.Close()
					}
				}()
				httpClient, err = a.mtlsClient(&f, mtls.Identity{}, func(ctx context.Context) (mtls.Identity, error) {
					s, err := a.openSigner(ctx)
					if err != nil {
						return mtls.Identity{}, err
					}
					opened = s
					return keyIdentity(s), nil
				}, nil)
			}
			if err != nil {
				return err
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			a.log.Debug("response", "status", resp.Status, "proto", resp.Proto)
			return r.write(a, resp)
		},
	}
	f.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVarP(&r.method, "request", "X", "", "HTTP `METHOD` (default GET, or POST with -d)")
	fl.StringArrayVarP(&r.headers, "header", "H", nil, "add a request header \"`Name: value`\" (repeatable)")
	fl.StringVarP(&r.data, "data", "d", "", "request body `DATA`; @FILE reads it from a file, @- from stdin")
	fl.StringVarP(&r.out, "output-file", "o", "", "write the response body to `FILE` instead of stdout")
	fl.BoolVarP(&r.fail, "fail", "f", false, "exit with code 5 when the HTTP status is 400 or more")
	fl.BoolVarP(&r.include, "include", "i", false, "print the status line and response headers before the body")
	// curl's -k, hidden: there is no insecure mode, and the flag says what to do instead.
	fl.BoolVarP(&r.insecure, "insecure", "k", false, "not offered: pivauth always verifies the server (use --ca-file)")
	_ = fl.MarkHidden("insecure")
	fl.BoolVar(&r.bearer, "bearer", false, "send an access token (Authorization: Bearer) from the token flags or profile")
	return cmd
}

// build makes the request from the flags.
func (r *requestFlags) build(ctx context.Context, url string, stdin io.Reader) (*http.Request, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, usageErrorf("%s: pivauth speaks HTTPS only (the card authenticates TLS)", url)
	}
	var body io.Reader
	method := r.method
	if r.data != "" {
		data := []byte(r.data)
		switch {
		case r.data == "@-":
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, err
			}
			data = b
		case strings.HasPrefix(r.data, "@"):
			b, err := os.ReadFile(r.data[1:])
			if err != nil {
				return nil, withCode(ExitUsage, fmt.Errorf("-d: %w", err))
			}
			data = b
		}
		body = bytes.NewReader(data)
		if method == "" {
			method = http.MethodPost
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), url, body)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl's default for -d
	}
	for _, h := range r.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, usageErrorf("-H %q: want \"Name: value\"", h)
		}
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req, nil
}

// write prints (or saves) the response and applies --fail.
func (r *requestFlags) write(a *app, resp *http.Response) error {
	var w io.Writer = a.stdout
	if r.out != "" {
		f, err := os.Create(r.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if r.include {
		fmt.Fprintf(w, "%s %s\r\n", resp.Proto, resp.Status)
		names := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(w, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprint(w, "\r\n")
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return err
	}
	if r.fail && resp.StatusCode >= 400 {
		return &httpStatusError{url: resp.Request.URL.String(), status: resp.Status}
	}
	return nil
}

// mtlsClient is an HTTP client presenting the card's certificate (and with src a bearer token) to
// the origin of the request only, trusting the system roots, SSL_CERT_FILE and --ca-file. A
// redirect to another origin is followed without the token or the card; one from https to http is
// refused (netsafe.OriginClient). Each handshake the card signs is recorded with the server's name.
// The card's identity is id, or, with open, opened when a server first asks for a client
// certificate (mtls.Options.OpenIdentity).
func (a *app) mtlsClient(f *idpFlags, id mtls.Identity, open func(context.Context) (mtls.Identity, error), src oauth2.TokenSource) (*http.Client, error) {
	roots, err := f.extraRoots()
	if err != nil {
		return nil, err
	}
	opts := mtls.Options{ExtraRoots: roots, Timeout: a.opts.httpTimeout}
	plain, err := mtls.NewTransport(mtls.Identity{}, opts)
	if err != nil {
		return nil, err
	}
	opts.OpenIdentity = open
	card, err := mtls.NewTransport(id, opts)
	if err != nil {
		return nil, err
	}
	var own http.RoundTripper = card
	if src != nil {
		own = &oauth2.Transport{Source: src, Base: card}
	}
	return netsafe.OriginClient(own, plain, a.opts.httpTimeout), nil
}

// bearerClient opens the card and the token client of the flags.
func (a *app) bearerClient(ctx context.Context, f *idpFlags) (cardKey, *client, error) {
	if _, err := a.preflight(ctx, f); err != nil {
		return nil, nil, err
	}
	s, err := a.openSigner(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.newClient(ctx, f, s)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, c, nil
}

// resourceClient sends tokens from c over the card's TLS identity: the OIDC client's own (which
// certificate-bound tokens need) or a new mTLS transport for Entra tokens.
func (a *app) resourceClient(ctx context.Context, c *client, f *idpFlags) (*http.Client, error) {
	src := adapters.OAuth2TokenSource(ctx, c, f.scopes...)
	if c.oidc != nil {
		return c.oidc.ResourceClient(src), nil
	}
	return a.mtlsClient(f, keyIdentity(c.signer), nil, src)
}
