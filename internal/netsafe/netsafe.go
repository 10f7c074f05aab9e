// Package netsafe holds the rules every HTTP exchange of pivauth follows, so that a token, a client
// assertion or the card's TLS identity goes only where it was meant to go:
//
//   - https only: an identity provider's URLs (issuer, discovery, token, device and authorization
//     endpoints) and any server pivauth authenticates to must use https; plain http is accepted for
//     loopback addresses only (127.0.0.0/8, ::1, localhost), where local test providers run and no
//     network attacker sits in between (CheckURL);
//   - no downgrade: a redirect from https to http is never followed (NoDowngrade);
//   - credentials stay with their origin: a request's Authorization header and client certificate
//     go to the origin (scheme, host, port) it was made for; a redirect to another origin is
//     followed without them, as curl does with the Authorization header (OriginClient);
//   - a deadline on every exchange (DefaultTimeout), so a stalled server cannot hang a job;
//   - text a server chose (error descriptions, status lines) is printed without control
//     characters, so it cannot move the cursor, rewrite earlier lines or forge output (Printable).
package netsafe

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTimeout bounds one HTTP exchange (connection, TLS handshake, request, answer) when the
// caller sets no deadline of its own.
const DefaultTimeout = 30 * time.Second

// InsecureURLError is a URL refused because it would carry credentials in clear: plain http to a
// host that is not a loopback address, or a scheme other than http(s).
type InsecureURLError struct {
	// What names the URL's role ("issuer", "token_endpoint").
	What string
	// URL is the refused URL.
	URL string
}

// Error says what to do.
func (e *InsecureURLError) Error() string {
	return fmt.Sprintf("%s %s is not an https URL: pivauth sends tokens, client assertions and the card's TLS identity over https only (plain http only to a loopback address: 127.0.0.1, [::1], localhost)",
		e.What, Printable(e.URL))
}

// ErrDowngrade is wrapped by the error of a redirect from https to http, which is never followed.
var ErrDowngrade = errors.New("redirect from https to http refused")

// ErrRedirect is wrapped by the error of a redirect where none may be followed (discovery).
var ErrRedirect = errors.New("redirect refused")

// IsLoopback reports whether host (a URL's Hostname) is a loopback address or "localhost".
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckURL returns an *InsecureURLError unless raw is an absolute https URL, or an http URL of a
// loopback host. what names the URL in the error.
func CheckURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, Printable(raw), err)
	}
	return checkParsed(what, u)
}

func checkParsed(what string, u *url.URL) error {
	switch {
	case u.Host == "":
		return fmt.Errorf("%s %q is not an absolute URL (https://host/…)", what, Printable(u.String()))
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case strings.EqualFold(u.Scheme, "http") && IsLoopback(u.Hostname()):
		return nil
	}
	return &InsecureURLError{What: what, URL: u.String()}
}

// CheckRequest refuses a request whose URL CheckURL refuses: transports that authenticate call
// it first, so no code path (a discovered endpoint, a redirect) can send their credentials in
// clear.
func CheckRequest(req *http.Request) error {
	return checkParsed("URL", req.URL)
}

// NoDowngrade is an http.Client CheckRedirect that refuses redirects from https to anything else,
// and to URLs CheckURL refuses, and stops after 10 redirects as net/http does by default.
func NoDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	prev := via[len(via)-1].URL
	if strings.EqualFold(prev.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https") {
		return fmt.Errorf("%s redirected to %s: %w (it would expose the request in clear)", Printable(prev.String()), Printable(req.URL.String()), ErrDowngrade)
	}
	return CheckRequest(req)
}

// NoRedirects is an http.Client CheckRedirect that follows no redirect at all.
func NoRedirects(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("%s redirected to %s: %w", Printable(via[len(via)-1].URL.String()), Printable(req.URL.String()), ErrRedirect)
}

// Origin returns the origin of u: lower-case scheme and host, and the port with the scheme's
// default filled in.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = "443"
		if scheme == "http" {
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// OriginClient returns an http.Client that sends each request to the origin of the request it was
// asked to make through own (the transport carrying the credentials: a bearer token, the card's
// TLS identity), and follows a redirect to any other origin through other (no credentials), with
// the Authorization and Cookie headers removed. Redirects from https to http are refused
// (NoDowngrade). timeout bounds each request, redirects and body included (0: DefaultTimeout).
func OriginClient(own, other http.RoundTripper, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{Transport: &originRouter{own: own, other: other}, CheckRedirect: NoDowngrade, Timeout: timeout}
}

// originRouter chooses the transport of a request by its origin.
type originRouter struct {
	own, other http.RoundTripper
}

// RoundTrip sends req through own when it is the client's first request or a redirect to the
// first request's origin, else through other without credentials.
func (o *originRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if Origin(first.URL) == Origin(req.URL) {
		return o.own.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Del("Authorization")
	out.Header.Del("Cookie")
	return o.other.RoundTrip(out)
}

// CloseIdleConnections closes the idle connections of both transports.
func (o *originRouter) CloseIdleConnections() {
	for _, t := range []http.RoundTripper{o.own, o.other} {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// Printable returns s with every control character (C0 including newline and ESC, DEL, C1) and
// every bidirectional formatting character replaced by a space, runs of them collapsed, and
// invalid UTF-8 replaced: server-supplied text printed on a terminal can then neither steer it
// nor pass for pivauth's own lines.
func Printable(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// needsCleaning reports whether Printable would change s.
func needsCleaning(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return true
		}
	}
	return false
}

// TimeoutError is an exchange that did not finish within its deadline.
type TimeoutError struct {
	// URL is where the request went.
	URL string
	// After is the deadline that passed.
	After time.Duration
	// Err is the transport's error.
	Err error
}

// Error names the server and the deadline.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s: no answer within %s", Printable(e.URL), e.After)
}

// Unwrap returns the transport's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, as net.Error timeouts do.
func (e *TimeoutError) Timeout() bool { return true }

// PrintableError returns err with its message made Printable, for an error whose text quotes a
// server (a library's error that carries a response body); errors.Is and errors.As still reach
// err. nil stays nil.
func PrintableError(err error) error {
	if err == nil {
		return nil
	}
	return &printableError{err}
}

type printableError struct{ err error }

func (e *printableError) Error() string { return Printable(e.err.Error()) }
func (e *printableError) Unwrap() error { return e.err }
