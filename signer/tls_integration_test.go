//go:build linux

package signer_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// handshake is one TLS connection with client-certificate authentication
// to openssl s_server, and what the server must report about it.
type handshake struct {
	version uint16
	// clientSigalgs restricts the schemes the server accepts for the client
	// signature (s_server -client_sigalgs); empty leaves OpenSSL's default.
	clientSigalgs string
	// sigType is s_server's "Peer signature type" for the client's signature.
	sigType string
}

func (h handshake) String() string {
	v := map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3"}[h.version]
	if h.clientSigalgs != "" {
		return v + "/" + h.clientSigalgs
	}
	return v
}

func TestTLSClientAuthPIVProfile(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	s := openSigner(t, b, signer.Options{PIN: &pinCounter{pin: defaultPIN}})
	for _, h := range []handshake{
		{tls.VersionTLS12, "rsa_pkcs1_sha256", "RSA"},
		{tls.VersionTLS12, "rsa_pss_rsae_sha256", "RSA-PSS"},
		{tls.VersionTLS13, "", "RSA-PSS"},
	} {
		t.Run(h.String(), func(t *testing.T) { tlsHandshake(t, b, s, h) })
	}
}

func TestTLSClientAuthYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	specs := []keySpec{
		{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever},
		{retired(0), piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever},
		{retired(1), piv.AlgECCP384, piv.PINPolicyNever, piv.TouchPolicyNever},
		{retired(2), piv.AlgEd25519, piv.PINPolicyNever, piv.TouchPolicyNever},
	}
	provision(t, b, specs...)
	cases := map[piv.Algorithm][]handshake{
		piv.AlgRSA2048: {
			{tls.VersionTLS12, "rsa_pkcs1_sha256", "RSA"},
			{tls.VersionTLS12, "rsa_pss_rsae_sha384", "RSA-PSS"},
			{tls.VersionTLS13, "", "RSA-PSS"},
		},
		piv.AlgECCP256: {{tls.VersionTLS12, "", "ECDSA"}, {tls.VersionTLS13, "", "ECDSA"}},
		piv.AlgECCP384: {{tls.VersionTLS12, "", "ECDSA"}, {tls.VersionTLS13, "", "ECDSA"}},
		piv.AlgEd25519: {{tls.VersionTLS13, "", "ed25519"}},
	}
	for _, spec := range specs {
		s := openSigner(t, b, signer.Options{Slot: spec.slot, PIN: &pinCounter{pin: defaultPIN}})
		for _, h := range cases[spec.alg] {
			t.Run(spec.alg.String()+"/"+h.String(), func(t *testing.T) { tlsHandshake(t, b, s, h) })
		}
	}
}

var (
	tlsServerOnce sync.Once
	tlsServerDir  string
	tlsServerErr  error
)

// tlsServerFiles writes a self-signed server certificate and key for
// 127.0.0.1, once per test binary, and returns their directory.
func tlsServerFiles(t *testing.T) string {
	tlsServerOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tlsServerErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "signer test server"},
			DNSNames:     []string{"localhost"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			tlsServerErr = err
			return
		}
		pk, _ := x509.MarshalPKCS8PrivateKey(key)
		tlsServerDir, tlsServerErr = os.MkdirTemp("", "signer-tls")
		if tlsServerErr == nil {
			os.WriteFile(filepath.Join(tlsServerDir, "server.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
			tlsServerErr = os.WriteFile(filepath.Join(tlsServerDir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
		}
	})
	if tlsServerErr != nil {
		t.Fatal(tlsServerErr)
	}
	return tlsServerDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tlsServerDir != "" {
		os.RemoveAll(tlsServerDir)
	}
	os.Exit(code)
}

var acceptLine = regexp.MustCompile(`ACCEPT 127\.0\.0\.1:(\d+)`)

// tlsHandshake runs openssl s_server on a free port of 127.0.0.1 for one
// connection, requiring a client certificate issued by the bench CA, and
// connects to it with the signer's tls.Certificate. The server's status page
// (-www) says which version was negotiated, how the client signed and which
// client certificate it verified.
func tlsHandshake(t *testing.T, b *benchtest.Bench, s *signer.Signer, h handshake) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := tlsServerFiles(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-www",
		"-cert", filepath.Join(dir, "server.pem"), "-key", filepath.Join(dir, "server.key"),
		"-CAfile", ca, "-Verify", "1", "-verify_return_error"}
	if h.version == tls.VersionTLS12 {
		args = append(args, "-tls1_2")
	} else {
		args = append(args, "-tls1_3")
	}
	if h.clientSigalgs != "" {
		args = append(args, "-client_sigalgs", h.clientSigalgs)
	}
	// One deadline bounds the exchange: the server is killed at it (with
	// WaitDelay, so its pipes cannot hold Wait), and every read of its output,
	// on its stdout or over the connection, gives up at it.
	ctx, cancel := context.WithTimeout(testContext(t), time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	srv := exec.CommandContext(ctx, "openssl", args...)
	srv.WaitDelay = testio.WaitDelay
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &testio.SyncBuffer{}
	srv.Stderr = log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Wait()
	defer srv.Process.Kill()
	type accepted struct {
		port string
		err  error
	}
	accept := make(chan accepted, 1)
	go func() {
		out := bufio.NewReader(stdout)
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				accept <- accepted{err: err}
				return
			}
			log.Write([]byte(line))
			if m := acceptLine.FindStringSubmatch(line); m != nil {
				accept <- accepted{port: m[1]}
				break
			}
		}
		io.Copy(log, out)
	}()
	var port string
	select {
	case a := <-accept:
		if a.err != nil {
			t.Fatalf("openssl s_server did not start: %v\n%s", a.err, log.String())
		}
		port = a.port
	case <-ctx.Done():
		t.Fatalf("openssl s_server killed: no ACCEPT line by the deadline (%v)\n%s", ctx.Err(), log.String())
	}

	roots := x509.NewCertPool()
	srvPEM, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	roots.AppendCertsFromPEM(srvPEM)
	before := s.Operations()
	conn, err := tls.DialWithDialer(&net.Dialer{Deadline: deadline}, "tcp", "127.0.0.1:"+port, &tls.Config{
		Certificates: []tls.Certificate{s.TLSCertificate()},
		RootCAs:      roots,
		ServerName:   "localhost",
		MinVersion:   h.version,
		MaxVersion:   h.version,
	})
	if err != nil {
		t.Fatalf("handshake: %v\nserver log:\n%s", err, log.String())
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading the status page: %v\nserver log:\n%s", err, log.String())
	}
	status := string(page)
	wantVersion := map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[h.version]
	// With -verify_return_error the handshake fails unless the server
	// verified the client certificate against the bench CA; the page then
	// shows the certificate it got.
	for _, want := range []string{"New, " + wantVersion, "Peer signature type: " + h.sigType + "\n",
		"Client certificate", "CN=" + s.Certificate().Subject.CommonName} {
		if !strings.Contains(status, want) {
			t.Errorf("server status page lacks %q:\n%s\nserver log:\n%s", want, status, log.String())
		}
	}
	if n := s.Operations() - before; n != 1 {
		t.Errorf("handshake used the card %d times, want 1", n)
	}
}
