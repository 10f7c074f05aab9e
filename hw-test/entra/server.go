package entra

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultResources are the resources every stand-in tenant knows, besides those named in apps'
// Roles and Scopes: Microsoft Graph, Exchange Online, Azure Resource Manager and Key Vault.
var DefaultResources = []string{
	"https://graph.microsoft.com",
	"https://outlook.office365.com",
	"https://management.azure.com",
	"https://management.core.windows.net",
	"https://vault.azure.net",
}

// Options configure a stand-in server. The zero value serves a random tenant on 127.0.0.1.
type Options struct {
	// Addr is the listen address; "" means 127.0.0.1 on a free port.
	Addr string
	// Tenant is the directory (tenant) id; "" means a random UUID.
	Tenant string
	// Domain is a verified domain that names the tenant too (login.microsoftonline.com/contoso.com).
	Domain string
	// Apps are registered at start; Register adds more.
	Apps []App
	// Resources the tenant knows besides DefaultResources and those in the apps' permissions.
	Resources []string
	// User is the automatic test user who "signs in" at the authorize endpoint.
	User User
	// Skew is the clock skew tolerated on assertion nbf/exp; 0 means 5 minutes, Entra's tolerance.
	Skew time.Duration
	// TokenLifetime of issued access tokens; 0 means one hour.
	TokenLifetime time.Duration
	// Now returns the server's idea of the time; nil means time.Now.
	Now func() time.Time
}

// User is the test user the authorize endpoint signs in without asking.
type User struct {
	UPN, Name, ObjectID string
}

// Stats count what the server did, so tests can assert that a client made no network call (for
// example when it refused an EC key or served a cached token).
type Stats struct {
	Discovery, Keys, Authorize, Token int // requests per endpoint
	Issued                            int // access tokens issued
	Rejections                        []int
}

// Server is a running stand-in.
type Server struct {
	opts     Options
	url      string
	tenant   string
	ca       *serverCA
	key      *rsa.PrivateKey
	kid      string
	http     *http.Server
	listener net.Listener

	mu         sync.Mutex
	apps       map[string]*App
	resources  []string
	jtis       map[string]time.Time // jti -> exp, for replay detection
	codes      map[string]*authCode
	refresh    map[string]*grant
	stats      Stats
	rejections []int
}

// Start listens on loopback and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Tenant == "" {
		opts.Tenant = uuid.NewString()
	}
	if opts.Skew == 0 {
		opts.Skew = 5 * time.Minute
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.User.UPN == "" {
		opts.User = User{UPN: "bench.user@pivauth.test", Name: "Bench User", ObjectID: uuid.NewString()}
	}
	ca, err := newServerCA()
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("entra stand-in: listen %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:      opts,
		url:       "https://" + ln.Addr().String(),
		tenant:    strings.ToLower(opts.Tenant),
		ca:        ca,
		key:       key,
		kid:       strings.ReplaceAll(uuid.NewString(), "-", ""),
		listener:  ln,
		apps:      map[string]*App{},
		resources: append(slices.Clone(DefaultResources), opts.Resources...),
		jtis:      map[string]time.Time{},
		codes:     map[string]*authCode{},
		refresh:   map[string]*grant{},
	}
	for _, a := range opts.Apps {
		if err := s.Register(a); err != nil {
			ln.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	s.http = &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.http.ServeTLS(ln, "", "") }() // returns ErrServerClosed on Close
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// URL is the server's base URL, the stand-in for https://login.microsoftonline.com.
func (s *Server) URL() string { return s.url }

// Tenant is the tenant id.
func (s *Server) Tenant() string { return s.tenant }

// Authority is the tenant's authority URL, as MSAL takes it.
func (s *Server) Authority() string { return s.url + "/" + s.tenant }

// TokenEndpoint is the tenant's v2.0 token endpoint, the audience client assertions must carry.
func (s *Server) TokenEndpoint() string { return s.Authority() + "/oauth2/v2.0/token" }

// Issuer is the iss of tokens the server issues.
func (s *Server) Issuer() string { return s.Authority() + "/v2.0" }

// CAPEM returns the PEM of the CA that issued the server's TLS certificate, for SSL_CERT_FILE.
func (s *Server) CAPEM() []byte { return s.ca.pem() }

// CertPool returns a pool holding only the server's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca.cert)
	return p
}

// HTTPClient returns a client that trusts the server's CA and nothing else.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}},
	}
}

// User returns the automatic test user.
func (s *Server) User() User { return s.opts.User }

// Register adds an app registration, replacing one with the same client id.
func (s *Server) Register(app App) error {
	if err := app.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := app
	s.apps[strings.ToLower(app.ClientID)] = &a
	for _, m := range []map[string][]string{app.Roles, app.Scopes} {
		for r := range m {
			if !slices.Contains(s.resources, r) {
				s.resources = append(s.resources, r)
			}
		}
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rejections = slices.Clone(s.rejections)
	return st
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// resolveTenant accepts the tenant id or the verified domain, case-insensitively (MSAL lowercases
// authorities), and answers AADSTS90002 for anything else.
func (s *Server) resolveTenant(r *http.Request) *aadError {
	t := strings.ToLower(r.PathValue("tenant"))
	if t == s.tenant || (s.opts.Domain != "" && t == strings.ToLower(s.opts.Domain)) {
		return nil
	}
	return rejection("invalid_tenant", 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", r.PathValue("tenant"))
}

func (s *Server) app(clientID string) *App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[strings.ToLower(clientID)]
}
