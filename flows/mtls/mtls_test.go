package mtls_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
)

var versions = map[string]uint16{"TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13}

// get sends GET url through c and returns the body, failing the test on any error or non-200.
func get(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

// TestResumptionCostsOneSignature: N sequential requests, each on a new connection, cost one
// signature per identity; nginx reports the later handshakes as resumed.
func TestResumptionCostsOneSignature(t *testing.T) {
	keys := map[string]*assertiontest.CountingSigner{}
	certs := map[string]*x509.Certificate{}
	var cas []*x509.Certificate
	for _, kind := range []string{assertiontest.RSA2048, assertiontest.P256, assertiontest.P384, assertiontest.Ed25519} {
		key, cert := assertiontest.KeyWith(t, kind, assertiontest.CertOptions{CommonName: "mtls " + kind})
		keys[kind], certs[kind] = &assertiontest.CountingSigner{Signer: key}, cert
		cas = append(cas, cert)
	}
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: cas, Tickets: true, SessionCache: true})
	for vname, version := range versions {
		for kind, key := range keys {
			t.Run(vname+"/"+kind, func(t *testing.T) {
				tr, err := mtls.NewTransport(mtls.Identity{Signer: key, Certificate: certs[kind]},
					mtls.Options{RootCAs: srv.CA.Pool(), MinVersion: version, MaxVersion: version})
				if err != nil {
					t.Fatal(err)
				}
				c := &http.Client{Transport: tr}
				before := key.Count()
				const n = 4
				for i := range n {
					body := get(t, c, srv.URL)
					if !strings.Contains(body, "verify=SUCCESS") || !strings.Contains(body, "CN=mtls "+kind) {
						t.Fatalf("request %d: nginx did not verify our certificate: %s", i, body)
					}
					if want := map[bool]string{true: "reused=.", false: "reused=r"}[i == 0]; !strings.Contains(body, want) {
						t.Errorf("request %d: want %s: %s", i, want, body)
					}
					tr.CloseIdleConnections() // the next request dials and handshakes anew
				}
				if got := key.Count() - before; got != 1 {
					t.Errorf("%d handshakes cost %d signatures, want 1", n, got)
				}
			})
		}
	}
}

// TestTLS12SessionIDsNotResumed documents that Go's client resumes TLS 1.2 only by ticket: with
// tickets off and only nginx's session-id cache, every new connection costs a signature.
func TestTLS12SessionIDsNotResumed(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	counting := &assertiontest.CountingSigner{Signer: key}
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}, SessionCache: true})
	tr, err := mtls.NewTransport(mtls.Identity{Signer: counting, Certificate: cert},
		mtls.Options{RootCAs: srv.CA.Pool(), MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	for range 2 {
		get(t, c, srv.URL)
		tr.CloseIdleConnections()
	}
	if got := counting.Count(); got != 2 {
		t.Errorf("two TLS 1.2 handshakes without tickets cost %d signatures, want 2", got)
	}
}

// swappable is a signer whose key can be replaced, as when another card is put in the reader.
type swappable struct {
	mu  sync.Mutex
	key crypto.Signer
}

func (s *swappable) set(k crypto.Signer) { s.mu.Lock(); s.key = k; s.mu.Unlock() }
func (s *swappable) get() crypto.Signer  { s.mu.Lock(); defer s.mu.Unlock(); return s.key }
func (s *swappable) Public() crypto.PublicKey {
	return s.get().Public()
}
func (s *swappable) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.get().Sign(r, d, o)
}

// TestKeyChangeFailsClosed: once a handshake signature does not verify with the certificate, the
// transport refuses every later handshake, even when the right key comes back.
func TestKeyChangeFailsClosed(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	other, _ := assertiontest.Key(t, assertiontest.P256)
	card := &swappable{key: key}
	// No tickets, no session cache: every connection is a full handshake with a signature.
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}})
	tr, err := mtls.NewTransport(mtls.Identity{Signer: card, Certificate: cert}, mtls.Options{RootCAs: srv.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	get(t, c, srv.URL)
	tr.CloseIdleConnections()

	card.set(other)
	_, err = c.Get(srv.URL)
	var he *mtls.HandshakeError
	if !errors.Is(err, mtls.ErrKeyChanged) || !errors.As(err, &he) {
		t.Fatalf("request with another key: got %v, want a HandshakeError wrapping ErrKeyChanged", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not name the server: %v", err)
	}

	card.set(key)
	tr.CloseIdleConnections()
	if _, err := c.Get(srv.URL); !errors.Is(err, mtls.ErrKeyChanged) {
		t.Fatalf("after the key changed once, got %v, want ErrKeyChanged", err)
	}
}

// TestUnusableIdentityRefused: a certificate for another key, or one outside its validity, is
// refused before any network use.
func TestUnusableIdentityRefused(t *testing.T) {
	key, _ := assertiontest.Key(t, assertiontest.P256)
	_, cert := assertiontest.Key(t, assertiontest.P256)
	if _, err := mtls.NewTransport(mtls.Identity{Signer: key, Certificate: cert}, mtls.Options{}); !errors.Is(err, assertion.ErrKeyMismatch) {
		t.Fatalf("got %v, want ErrKeyMismatch", err)
	}
	expired := assertiontest.Certificate(t, key, assertiontest.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if _, err := mtls.NewTransport(mtls.Identity{Signer: key, Certificate: expired}, mtls.Options{}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: got %v", err)
	}
	future := assertiontest.Certificate(t, key, assertiontest.CertOptions{NotBefore: time.Now().Add(24 * time.Hour)})
	if _, err := mtls.NewTransport(mtls.Identity{Signer: key, Certificate: future}, mtls.Options{}); err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("not yet valid certificate: got %v", err)
	}
}

// TestWrongCAExplained: nginx answers 400 to a certificate from a CA it does not trust; Explain
// names the CA nginx asked for and ours.
func TestWrongCAExplained(t *testing.T) {
	trusted := tlstest.NewCA(t, "trusted client CA")
	foreign := tlstest.NewCA(t, "foreign client CA")
	key, _ := assertiontest.Key(t, assertiontest.P256)
	cert := foreign.Client(t, key.Public(), pkix.Name{CommonName: "bench.user"})
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{trusted.Cert}})
	tr, err := mtls.NewTransport(mtls.Identity{Signer: key, Certificate: cert}, mtls.Options{RootCAs: srv.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("nginx answered %s, want 400", resp.Status)
	}
	explained := tr.Explain(resp)
	if explained == nil {
		t.Fatal("Explain returned nil for a rejected certificate")
	}
	for _, want := range []string{trusted.Cert.Subject.String(), foreign.Cert.Subject.String(), strings.TrimPrefix(srv.URL, "https://")} {
		if !strings.Contains(explained.Error(), want) {
			t.Errorf("explanation lacks %q: %v", want, explained)
		}
	}
}

// TestHandshakeErrorNamesServerAndCAs: a server that refuses our certificate in the handshake
// (a Go server requiring a verified certificate) gives a HandshakeError with its CA names, in
// TLS 1.2 (alert during the handshake) and TLS 1.3 (alert after it, on the first read).
func TestHandshakeErrorNamesServerAndCAs(t *testing.T) {
	trusted := tlstest.NewCA(t, "trusted client CA")
	foreign := tlstest.NewCA(t, "foreign client CA")
	key, _ := assertiontest.Key(t, assertiontest.RSA2048)
	cert := foreign.Client(t, key.Public(), pkix.Name{CommonName: "bench.user"})
	serverCA := tlstest.NewCA(t, "server CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.Server(t, "127.0.0.1")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    trusted.Pool(),
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	for vname, version := range versions {
		t.Run(vname, func(t *testing.T) {
			c, err := mtls.NewClient(mtls.Identity{Signer: key, Certificate: cert},
				mtls.Options{RootCAs: serverCA.Pool(), MaxVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Get(srv.URL)
			var he *mtls.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("got %v, want a HandshakeError", err)
			}
			if he.Server != srv.Listener.Addr().String() || he.Request == nil ||
				len(he.Request.AcceptableCAs) != 1 || he.Request.AcceptableCAs[0] != trusted.Cert.Subject.String() || he.Request.Unsuitable == nil {
				t.Fatalf("HandshakeError %+v does not describe the server and its request", he)
			}
			if !strings.Contains(err.Error(), trusted.Cert.Subject.String()) {
				t.Errorf("message lacks the CA asked for: %v", err)
			}
			t.Log(err)
		})
	}
}

// TestSignerErrorKeepsType: a signer failure (wrong PIN, card removed) reaches the caller with its
// type, which crypto/tls alone would flatten to a string.
func TestSignerErrorKeepsType(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	errCard := errors.New("card removed")
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}})
	c, err := mtls.NewClient(mtls.Identity{Signer: failing{key, errCard}, Certificate: cert}, mtls.Options{RootCAs: srv.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(srv.URL); !errors.Is(err, errCard) {
		t.Fatalf("got %v, want the signer's error", err)
	}
}

type failing struct {
	crypto.Signer
	err error
}

func (f failing) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, f.err }

// TestSharedCacheKeyedByIdentity: two identities sharing a session cache never resume each
// other's sessions.
func TestSharedCacheKeyedByIdentity(t *testing.T) {
	keyA, certA := assertiontest.KeyWith(t, assertiontest.P256, assertiontest.CertOptions{CommonName: "identity A"})
	keyB, certB := assertiontest.KeyWith(t, assertiontest.P256, assertiontest.CertOptions{CommonName: "identity B"})
	a, b := &assertiontest.CountingSigner{Signer: keyA}, &assertiontest.CountingSigner{Signer: keyB}
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{certA, certB}, Tickets: true})
	cache := tls.NewLRUClientSessionCache(8)
	for _, id := range []struct {
		signer *assertiontest.CountingSigner
		cert   *x509.Certificate
	}{{a, certA}, {b, certB}} {
		c, err := mtls.NewClient(mtls.Identity{Signer: id.signer, Certificate: id.cert}, mtls.Options{RootCAs: srv.CA.Pool(), SessionCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if body := get(t, c, srv.URL); !strings.Contains(body, id.cert.Subject.String()) || !strings.Contains(body, "reused=.") {
			t.Errorf("%s: nginx saw %s", id.cert.Subject, body)
		}
	}
	if a.Count() != 1 || b.Count() != 1 {
		t.Errorf("signatures A=%d B=%d, want one each", a.Count(), b.Count())
	}
}

// TestSSLCertFile: a server CA named by SSL_CERT_FILE is trusted besides the system roots.
func TestSSLCertFile(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}})
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, tlstest.PEM(srv.CA.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	id := mtls.Identity{Signer: key, Certificate: cert}
	t.Setenv("SSL_CERT_FILE", "")
	c, err := mtls.NewClient(id, mtls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var he *mtls.HandshakeError
	if _, err := c.Get(srv.URL); !errors.As(err, &he) || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Fatalf("without the CA: got %v, want a HandshakeError pointing at SSL_CERT_FILE", err)
	}
	t.Setenv("SSL_CERT_FILE", file)
	if c, err = mtls.NewClient(id, mtls.Options{}); err != nil {
		t.Fatal(err)
	}
	get(t, c, srv.URL)
}

// TestFromTLSCertificate: a tls.Certificate with a chain becomes leaf + chain.
func TestFromTLSCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "issuing CA")
	key, _ := assertiontest.Key(t, assertiontest.P256)
	leaf := ca.Client(t, key.Public(), pkix.Name{CommonName: "leaf"})
	schemes := []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}
	id, err := mtls.FromTLSCertificate(tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key, SupportedSignatureAlgorithms: schemes})
	if err != nil {
		t.Fatal(err)
	}
	if !id.Certificate.Equal(leaf) || len(id.Chain) != 1 || !id.Chain[0].Equal(ca.Cert) || id.Signer != key || len(id.SignatureSchemes) != 1 {
		t.Fatalf("identity %+v", id)
	}
	if _, err := mtls.FromTLSCertificate(tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: fmt.Stringer(nil)}); err == nil {
		t.Fatal("a non-signer private key was accepted")
	}
}
