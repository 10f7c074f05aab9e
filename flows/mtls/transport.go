package mtls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pivauth/pivauth/internal/netsafe"
	"github.com/pivauth/pivauth/signer/purpose"
)

// DefaultSessionCacheSize is the number of TLS sessions kept when Options.SessionCache is nil.
const DefaultSessionCacheSize = 64

// Options tune a Transport. The zero value is ready to use: TLS 1.2 to 1.3, system roots plus
// SSL_CERT_FILE, a session cache of DefaultSessionCacheSize entries.
type Options struct {
	// RootCAs replaces the default trust (Roots) when set.
	RootCAs *x509.CertPool
	// ExtraRoots are trusted besides the default roots (ignored when RootCAs is set).
	ExtraRoots []*x509.Certificate
	// MinVersion and MaxVersion bound the TLS version; 0 means TLS 1.2 and the highest (1.3).
	MinVersion, MaxVersion uint16
	// SessionCache holds resumable sessions; nil means a new LRU cache. It may be shared between
	// transports: entries are keyed by the identity's certificate, so one identity never resumes
	// another's session.
	SessionCache tls.ClientSessionCache
	// Timeout bounds the wait for a server's answer headers (ResponseHeaderTimeout) and, with
	// NewClient, each whole request; 0 means netsafe.DefaultTimeout (30 s).
	Timeout time.Duration
	// OpenIdentity, with the zero Identity given to NewTransport, opens the identity at the first
	// handshake whose server asks for a client certificate (and only then: a server that asks
	// for none never has it opened); its error fails that handshake, and the next one tries
	// again. The sessions are then kept in a cache of the transport's own (SessionCache is not
	// used), as the identity they were made with is not known in advance.
	OpenIdentity func(ctx context.Context) (Identity, error)
}

// timeout returns Options.Timeout or the default.
func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return netsafe.DefaultTimeout
}

// Transport is an http.RoundTripper presenting one Identity in every TLS handshake. It wraps an
// *http.Transport (keep-alive, HTTP/2, proxies from the environment) and turns TLS failures into
// *HandshakeError. Safe for concurrent use.
type Transport struct {
	idMu   sync.Mutex
	id     Identity
	open   func(ctx context.Context) (Identity, error) // Options.OpenIdentity, until it succeeded
	base   *http.Transport
	config *tls.Config
	broken atomic.Bool

	mu       sync.Mutex
	requests map[string]CertificateRequest // by server host:port, the last one seen
}

// NewTransport returns a Transport for the identity (the zero Identity presents no certificate).
// It refuses an identity whose certificate is not for its key or is expired.
func NewTransport(id Identity, opts Options) (*Transport, error) {
	if err := id.check(time.Now()); err != nil {
		return nil, err
	}
	roots := opts.RootCAs
	if roots == nil {
		var err error
		if roots, err = Roots(opts.ExtraRoots...); err != nil {
			return nil, err
		}
	}
	minVersion := opts.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	cache := opts.SessionCache
	if cache == nil || opts.OpenIdentity != nil {
		cache = tls.NewLRUClientSessionCache(DefaultSessionCacheSize)
	}
	t := &Transport{id: id, requests: map[string]CertificateRequest{}}
	if id.empty() {
		t.open = opts.OpenIdentity
	}
	t.config = &tls.Config{
		RootCAs:              roots,
		MinVersion:           minVersion,
		MaxVersion:           opts.MaxVersion,
		GetClientCertificate: t.clientCertificate,
		ClientSessionCache:   &identityCache{base: cache, prefix: id.cacheKey(), broken: &t.broken},
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = t.config
	base.ForceAttemptHTTP2 = true
	// A server that accepts the connection and never answers would hold the caller forever.
	base.ResponseHeaderTimeout = opts.timeout()
	t.base = base
	return t, nil
}

// NewClient returns an *http.Client using NewTransport(id, opts): each request bounded by
// Options.Timeout, redirects from https to http refused (netsafe.NoDowngrade). A redirect keeps
// the identity: for a client that must present it to one origin only, use netsafe.OriginClient
// with a transport of the zero Identity for the other origins.
func NewClient(id Identity, opts Options) (*http.Client, error) {
	t, err := NewTransport(id, opts)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, CheckRedirect: netsafe.NoDowngrade, Timeout: opts.timeout()}, nil
}

// Identity returns the identity the transport presents.
func (t *Transport) Identity() Identity {
	t.idMu.Lock()
	defer t.idMu.Unlock()
	return t.id
}

// openIdentity returns the identity, opening it with Options.OpenIdentity the first time a server
// asks for one.
func (t *Transport) openIdentity(ctx context.Context) (Identity, error) {
	t.idMu.Lock()
	defer t.idMu.Unlock()
	if !t.id.empty() || t.open == nil {
		return t.id, nil
	}
	id, err := t.open(ctx)
	if err == nil {
		err = id.check(time.Now())
	}
	if err != nil {
		return Identity{}, err
	}
	t.id, t.open = id, nil
	return id, nil
}

// TLSConfig returns a copy of the TLS configuration, sharing the identity, roots and session
// cache, for protocols other than HTTP. Failures through it are not turned into HandshakeError.
func (t *Transport) TLSConfig() *tls.Config { return t.config.Clone() }

// CloseIdleConnections closes idle keep-alive connections; later requests dial anew and resume
// their TLS session from the cache.
func (t *Transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// RoundTrip sends the request. TLS failures are returned as *HandshakeError. A plain http URL
// to a host that is not a loopback address is refused (*netsafe.InsecureURLError) before any
// connection: whatever reaches this transport (a discovered endpoint, a redirect) is sent over TLS.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := netsafe.CheckRequest(req); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, fmt.Errorf("mtls: %w", err)
	}
	rec := &handshakeRecord{}
	// The dial context of http.Transport keeps the request context's values, so the handshake
	// this request starts reports to rec, and its signature is recorded in the audit log as one
	// for this server (see clientCertificate).
	ctx := context.WithValue(req.Context(), recordKey{}, rec)
	p := purpose.From(ctx)
	p.ServerName = req.URL.Hostname()
	ctx = purpose.With(ctx, p)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	server := hostPort(req)
	request, signErr := rec.get()
	if request != nil {
		request.Server = server
		t.mu.Lock()
		t.requests[server] = *request
		t.mu.Unlock()
	}
	canceled := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if err != nil && !canceled && (signErr != nil || request != nil || isTLSFailure(err)) {
		if signErr != nil {
			err = signErr
		}
		return nil, &HandshakeError{Server: server, Certificate: t.Identity().Certificate, Request: request, Err: err}
	}
	return resp, err
}

// clientCertificate answers a server's certificate request with the identity.
func (t *Transport) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	rec, _ := cri.Context().Value(recordKey{}).(*handshakeRecord)
	id, err := t.openIdentity(cri.Context())
	if err != nil {
		rec.setSignError(err)
		return nil, err
	}
	if id.empty() {
		rec.setRequest(newCertificateRequest(cri, nil))
		return &tls.Certificate{}, nil
	}
	if t.broken.Load() {
		err := fmt.Errorf("mtls: %w (certificate %q): make a new transport once the right card is inserted", ErrKeyChanged, id.Certificate.Subject.String())
		rec.setSignError(err)
		return nil, err
	}
	cert := id.tlsCertificate(cri.Context(), &t.broken)
	cert.PrivateKey.(*checkedSigner).failed = rec.setSignError
	// A certificate the server's CA list does not name is still sent: many servers list only
	// some of the CAs they accept, or accept any certificate and check it later (RFC 8705
	// self-signed client authentication). The mismatch is kept to explain a rejection.
	rec.setRequest(newCertificateRequest(cri, cert))
	return cert, nil
}

// CertificateRequest returns the last certificate request received from server ("host:port").
func (t *Transport) CertificateRequest(server string) (CertificateRequest, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.requests[server]
	return r, ok
}

// hostPort names the server of a request as host:port.
func hostPort(req *http.Request) string {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "443"
		if req.URL.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(host, port)
}

// recordKey is the context key of the handshakeRecord of a request.
type recordKey struct{}

// handshakeRecord collects what happened in the handshake a request started. A nil record
// (handshakes outside RoundTrip) records nothing.
type handshakeRecord struct {
	mu      sync.Mutex
	request *CertificateRequest
	signErr error
}

func (r *handshakeRecord) setRequest(cr CertificateRequest) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.request = &cr
}

// setSignError keeps the signer's own error: crypto/tls flattens it to a string, losing the
// card's typed errors (wrong PIN, card removed) that callers test with errors.Is/As.
func (r *handshakeRecord) setSignError(err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signErr = err
}

func (r *handshakeRecord) get() (*CertificateRequest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.request, r.signErr
}

// cacheKey distinguishes the sessions of one identity from another's in a shared cache.
func (id Identity) cacheKey() string {
	if id.empty() {
		return "none|"
	}
	sum := sha256.Sum256(id.Certificate.Raw)
	return hex.EncodeToString(sum[:]) + "|"
}

// identityCache keys a session cache by identity and stops resuming once the key changed: a
// session made with the old key would otherwise keep authenticating as the old certificate.
type identityCache struct {
	base   tls.ClientSessionCache
	prefix string
	broken *atomic.Bool
}

// Get returns the identity's session for the server, none once the key changed.
func (c *identityCache) Get(key string) (*tls.ClientSessionState, bool) {
	if c.broken.Load() {
		return nil, false
	}
	return c.base.Get(c.prefix + key)
}

// Put stores (or with nil, removes) the identity's session for the server.
func (c *identityCache) Put(key string, cs *tls.ClientSessionState) {
	if c.broken.Load() && cs != nil {
		return
	}
	c.base.Put(c.prefix+key, cs)
}

// isTLSFailure reports whether err comes from the TLS layer.
func isTLSFailure(err error) bool {
	var (
		verify *tls.CertificateVerificationError
		op     *net.OpError
		alert  tls.AlertError
		record tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) ||
		(errors.As(err, &op) && op.Op == "remote error")
}
