// Package interop runs tools nobody in this project wrote — Yubico's
// yubico-piv-tool and OpenSC's opensc-tool, piv-tool and pkcs11-tool —
// against the virtual card on the real PC/SC stack, and checks what each
// step prints and what it leaves on the card. A card model that only our
// own code accepts would pass every other suite and fail here.
//
// The steps verify the factory PIN and change keys, so against a real card
// (PIVAUTH_TEST_READER) they run only with PIVAUTH_TEST_DESTRUCTIVE=1 and a
// card with factory credentials.
package interop_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
)

// opensslPKCS11 is Debian's OpenSC PKCS#11 module.
const opensslPKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// Factory credentials of both profiles.
const (
	factoryPIN = "123456"
	factoryPUK = "12345678"
	// factoryMgmt is the YubiKey factory management key, as piv-tool reads
	// it from PIV_EXT_AUTH_KEY.
	factoryMgmt = "01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08"
)

// session runs the tools against one card.
type session struct {
	t      *testing.T
	b      *benchtest.Bench
	dir    string   // scratch files
	env    []string // OPENSC_CONF and PIV_EXT_AUTH_KEY
	reader string
}

func newSession(t *testing.T, profile vcard.Profile, opts ...benchtest.Option) *session {
	for _, tool := range []string{"yubico-piv-tool", "opensc-tool", "piv-tool", "pkcs11-tool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testing.Short() {
				t.Skipf("%s is not installed (run hw-test/bench install)", tool)
			}
			t.Fatalf("%s is not installed: run hw-test/bench install", tool)
		}
	}
	b := benchtest.Start(t, profile, opts...)
	b.Destructive()
	s := &session{t: t, b: b, dir: t.TempDir(), reader: b.Reader}
	s.env = append(os.Environ(), "OPENSC_CONF="+s.openscConf(), "PIV_EXT_AUTH_KEY="+s.write("mgmt.key", []byte(factoryMgmt)))
	return s
}

// openscConf writes an OpenSC configuration that ignores every reader but
// the card's. OpenSC otherwise talks to every card present (other tests'
// virtual cards included), and its PKCS#11 module shows only the first 16
// virtual slots, 4 per reader. File caching is off: virtual cards come and
// go with the same serial numbers.
func (s *session) openscConf() string {
	readers, err := pcscstate.Readers()
	if err != nil {
		s.t.Fatal(err)
	}
	var ignored []string
	for _, r := range readers {
		if r != s.reader {
			ignored = append(ignored, fmt.Sprintf("%q", r))
		}
	}
	conf := "app default {\n\tframework pkcs15 { use_file_caching = no; }\n"
	if len(ignored) > 0 {
		conf += "\tignored_readers = " + strings.Join(ignored, ", ") + ";\n"
	}
	return s.write("opensc.conf", []byte(conf+"}\n"))
}

// write puts a scratch file in place and returns its path.
func (s *session) write(name string, data []byte) string {
	s.t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *session) path(name string) string { return filepath.Join(s.dir, name) }

func (s *session) read(name string) []byte {
	s.t.Helper()
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// toolTimeout bounds one tool run; each takes well under a second per
// APDU, so a tool still running after it hangs (waiting for a PIN on a
// terminal it does not have, or for a card that never answers).
const toolTimeout = time.Minute

// exec runs a tool in the scratch directory and returns its combined
// output and exit code. A tool that outlives toolTimeout is killed and
// fails the test.
func (s *session) exec(name string, args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		s.t.Fatalf("%s %s: still running after %v, killed\n%s", name, strings.Join(args, " "), toolTimeout, out)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// run runs a tool that must succeed and print every one of want.
func (s *session) run(want []string, name string, args ...string) string {
	s.t.Helper()
	out, code := s.exec(name, args...)
	if code != 0 {
		s.t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			s.t.Fatalf("%s %s: output lacks %q:\n%s", name, strings.Join(args, " "), w, out)
		}
	}
	return out
}

// fail runs a tool that must fail and print want.
func (s *session) fail(want string, name string, args ...string) {
	s.t.Helper()
	out, code := s.exec(name, args...)
	if code == 0 || !strings.Contains(out, want) {
		s.t.Fatalf("%s %s: exit %d, want failure with %q:\n%s", name, strings.Join(args, " "), code, want, out)
	}
}

// ypt runs yubico-piv-tool on the card (-r matches a substring of the
// reader name; no bench reader name contains another).
func (s *session) ypt(want []string, args ...string) string {
	s.t.Helper()
	return s.run(want, "yubico-piv-tool", append([]string{"-r", s.reader}, args...)...)
}

// pkcs11 runs pkcs11-tool with OpenSC's module on the card's slot.
func (s *session) pkcs11(want []string, args ...string) string {
	s.t.Helper()
	return s.run(want, "pkcs11-tool", append([]string{"--module", opensslPKCS11, "--slot-description", s.reader}, args...)...)
}

// throwawayCA makes a CA key and certificate with openssl, and a CSR from a
// throwaway key whose public key -force_pubkey replaces: yubico-piv-tool
// 2.2.0 cannot self-sign under OpenSSL 3.
func (s *session) throwawayCA() {
	s.run(nil, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=interop throwaway CA", "-days", "2")
	s.run(nil, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "csr.key", "-out", "req.csr", "-subj", "/CN=interop")
}

// certify issues a certificate for the public key in pubPEM.
func (s *session) certify(pubPEM, out string, serial int) *x509.Certificate {
	s.t.Helper()
	s.run(nil, "openssl", "x509", "-req", "-in", "req.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
		"-force_pubkey", pubPEM, "-out", out, "-days", "1", "-set_serial", fmt.Sprint(serial))
	return parseCertPEM(s.t, s.read(out))
}

func parseCertPEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("no PEM certificate in %q", data)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parsePublicPEM(t *testing.T, data []byte) crypto.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("no PEM public key in %q", data)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// equalKeys compares two public keys.
func equalKeys(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// generate makes a key in slot with yubico-piv-tool, issues a certificate
// for it, imports that and has yubico-piv-tool test a signature with it.
func (s *session) generate(slot, alg string, serial int) *x509.Certificate {
	s.t.Helper()
	pub := "pub" + slot + ".pem"
	s.ypt([]string{"Successfully generated a new private key."}, "-a", "generate", "-s", slot, "-A", alg, "-o", pub)
	key := parsePublicPEM(s.t, s.read(pub))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != "RSA2048" || k.N.BitLen() != 2048 {
			s.t.Fatalf("generate %s in %s gave an RSA key of %d bits", alg, slot, k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if alg != "ECCP256" || k.Curve.Params().Name != "P-256" {
			s.t.Fatalf("generate %s in %s gave an EC key on %s", alg, slot, k.Curve.Params().Name)
		}
	default:
		s.t.Fatalf("generate %s in %s gave a %T", alg, slot, key)
	}
	certFile := "cert" + slot + ".pem"
	cert := s.certify(pub, certFile, serial)
	s.ypt([]string{"Successfully imported a new certificate."}, "-a", "import-certificate", "-s", slot, "-i", certFile)
	kind := map[string]string{"RSA2048": "RSA", "ECCP256": "ECDSA"}[alg]
	s.ypt([]string{"Successfully verified PIN.", "Successful " + kind + " verification."},
		"-a", "verify-pin", "-P", factoryPIN, "-a", "test-signature", "-s", slot, "-i", certFile)
	return cert
}

// TestYubicoPIVTool drives a yubikey-profile card with yubico-piv-tool the
// way its manual does, then checks that OpenSC sees the result.
func TestYubicoPIVTool(t *testing.T) {
	s := newSession(t, vcard.ProfileYubiKey)
	s.throwawayCA()

	status := s.ypt([]string{"Version:\t5.", "PIN tries left:\t3"}, "-a", "status")
	serial := regexp.MustCompile(`Serial Number:\t(\d+)`).FindStringSubmatch(status)
	if serial == nil {
		t.Fatalf("status shows no serial number:\n%s", status)
	}

	s.generate("9a", "ECCP256", 1)
	cert9a := s.generate("9a", "RSA2048", 2)
	cert9c := s.generate("9c", "ECCP256", 3)
	s.ypt([]string{"Slot 9a:", "Algorithm:\tRSA2048", "Slot 9c:", "Algorithm:\tECCP256", "Subject DN:\tCN=interop"}, "-a", "status")
	if got := parseCertPEM(t, []byte(s.ypt(nil, "-a", "read-certificate", "-s", "9c"))); !got.Equal(cert9c) {
		t.Errorf("read-certificate 9c gave %v, want the imported certificate", got.Subject)
	}
	s.ypt([]string{"Successfully verified PIN.", "Successfully performed RSA decryption!"},
		"-a", "verify-pin", "-P", factoryPIN, "-a", "test-decipher", "-s", "9a", "-i", "cert9a.pem")

	// Attestation: the 9a key, under the F9 certificate, under the bench CA.
	attested := parseCertPEM(t, []byte(s.ypt(nil, "-a", "attest", "-s", "9a")))
	intermediate := parseCertPEM(t, []byte(s.ypt(nil, "-a", "read-certificate", "-s", "f9")))
	if !equalKeys(attested.PublicKey, cert9a.PublicKey) {
		t.Error("the attestation certificate does not carry the 9a key")
	}
	if !s.b.Real() {
		roots := x509.NewCertPool()
		roots.AddCert(s.b.CA.Cert)
		inter := x509.NewCertPool()
		inter.AddCert(intermediate)
		if _, err := attested.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("attestation chain does not verify to the bench CA: %v", err)
		}
	}
	// Yubico's attestation extension 1.3.6.1.4.1.41482.3.7 is the serial.
	var attestedSerial int
	for _, ext := range attested.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}) {
			if _, err := asn1.Unmarshal(ext.Value, &attestedSerial); err != nil {
				t.Errorf("serial extension: %v", err)
			}
		}
	}
	if fmt.Sprint(attestedSerial) != serial[1] {
		t.Errorf("attested serial %d, status shows %s", attestedSerial, serial[1])
	}

	// PIN management: change, block, unblock with the PUK.
	s.ypt([]string{"Successfully changed the pin code."}, "-a", "change-pin", "-P", factoryPIN, "-N", "654321")
	s.fail("2 tries left", "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", factoryPIN)
	s.fail("1 tries left", "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "000000")
	s.fail("blocked", "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "000000")
	s.fail("blocked", "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "654321")
	s.ypt([]string{"Successfully unblocked the pin code."}, "-a", "unblock-pin", "-P", factoryPUK, "-N", factoryPIN)
	s.ypt([]string{"Successfully verified PIN."}, "-a", "verify-pin", "-P", factoryPIN)
	s.ypt([]string{"PIN tries left:\t3"}, "-a", "status")

	// piv-tool: mutual authentication with the 3DES management key, then a
	// certificate load into 9d. piv-tool exits with the number of bytes it
	// wrote (mod 256) rather than 0, so the readback is the check.
	s.ypt([]string{"Successfully generated a new private key."}, "-a", "generate", "-s", "9d", "-A", "ECCP256", "-o", "pub9d.pem")
	cert9d := s.certify("pub9d.pem", "cert9d.pem", 4)
	if out, code := s.exec("piv-tool", "-r", s.reader, "-A", "M:9B:03", "-C", "9D", "-i", "cert9d.pem"); code != 0 && code != len(cert9d.Raw)&0xFF {
		t.Fatalf("piv-tool -C 9D: exit %d\n%s", code, out)
	}
	if got := parseCertPEM(t, []byte(s.ypt(nil, "-a", "read-certificate", "-s", "9d"))); !got.Equal(cert9d) {
		t.Errorf("9d holds %v after piv-tool loaded the certificate", got.Subject)
	}

	// OpenSC names the token after the 9a certificate's subject.
	s.opensc(map[string]*x509.Certificate{"01": cert9a, "02": cert9c, "03": cert9d}, "interop", true)
}

// opensc checks the card with OpenSC: reader list, ATR and name, then through PKCS#11
// the certificates by object ID, an RSA-PKCS signature with 01 (9A) and an
// ECDSA signature with 02 (9C, PIN always: pkcs11-tool logs in again for
// it). A nil certificate in certs is filled in with what the card returns;
// the others must match it. label is the token label expected. Without
// ecdsaOffered, OpenSC is expected to refuse the ECDSA mechanism instead.
func (s *session) opensc(certs map[string]*x509.Certificate, label string, ecdsaOffered bool) {
	t := s.t
	atr := s.run(nil, "opensc-tool", "-r", s.reader, "-a")
	if !s.b.Real() {
		want := strings.ToLower(strings.Join(strings.Fields(fmt.Sprintf("% X", s.b.Card.ATR())), ":"))
		if got := strings.TrimSpace(atr); got != want {
			t.Errorf("opensc-tool -a printed %q, want %q", got, want)
		}
	}
	if list := s.run(nil, "opensc-tool", "-l"); !regexp.MustCompile(`(?m)^0 +Yes +` + regexp.QuoteMeta(s.reader) + `$`).MatchString(list) {
		t.Errorf("opensc-tool -l does not list the card in %q as its only reader:\n%s", s.reader, list)
	}
	s.run([]string{"Personal Identity Verification Card"}, "opensc-tool", "-r", s.reader, "-n")
	s.run([]string{"Personal Identity Verification Card"}, "piv-tool", "-r", s.reader, "-n")

	s.run([]string{"Slot 0 (0x0): " + s.reader, "token label        : " + label}, "pkcs11-tool", "--module", opensslPKCS11, "-L")
	objects := s.pkcs11(nil, "--login", "--pin", factoryPIN, "-O")
	for id, cert := range certs {
		s.pkcs11(nil, "--read-object", "--type", "cert", "--id", id, "-o", "cert"+id+".der")
		got, err := x509.ParseCertificate(s.read("cert" + id + ".der"))
		if err != nil {
			t.Fatalf("certificate %s from pkcs11-tool: %v", id, err)
		}
		if cert != nil && !got.Equal(cert) {
			t.Errorf("PKCS#11 certificate %s is %v, want %v", id, got.Subject, cert.Subject)
		}
		certs[id] = got
		if !regexp.MustCompile(`(?m)^Private Key Object;.*\n(?:  .*\n)*?  ID:\s+` + id + `$`).MatchString(objects) {
			t.Errorf("pkcs11-tool -O after login lists no private key %s:\n%s", id, objects)
		}
	}

	data := []byte("signed through OpenSC's PKCS#11 module")
	s.write("data", data)
	s.pkcs11([]string{"Using signature algorithm RSA-PKCS"},
		"--login", "--pin", factoryPIN, "--sign", "--mechanism", "RSA-PKCS", "--id", "01", "-i", "data", "-o", "sig01")
	if err := rsa.VerifyPKCS1v15(certs["01"].PublicKey.(*rsa.PublicKey), 0, data, s.read("sig01")); err != nil {
		t.Errorf("RSA-PKCS signature of 01 does not verify with its certificate: %v", err)
	}
	digest := sha256.Sum256(data)
	s.write("digest", digest[:])
	if !ecdsaOffered {
		// OpenSC registers no EC algorithm for the card (CardMode.OpenSCOffersECDSA): it says so.
		s.fail("CKR_MECHANISM_INVALID", "pkcs11-tool", "--module", opensslPKCS11, "--slot-description", s.reader,
			"--login", "--pin", factoryPIN, "--sign", "--mechanism", "ECDSA", "--id", "02", "-i", "digest", "-o", "sig02")
		return
	}
	s.pkcs11([]string{"Using signature algorithm ECDSA"},
		"--login", "--pin", factoryPIN, "--sign", "--mechanism", "ECDSA", "--id", "02", "-i", "digest", "-o", "sig02",
		"--signature-format", "openssl")
	if !ecdsa.VerifyASN1(certs["02"].PublicKey.(*ecdsa.PublicKey), digest[:], s.read("sig02")) {
		t.Error("ECDSA signature of 02 does not verify with its certificate")
	}
}

// TestOpenSCGovernmentCard checks a piv-profile card with OpenSC: serial
// from the CHUID, the four card-issued keys with their (partly gzip-
// compressed) certificates, signatures with 9A and 9C.
func TestOpenSCGovernmentCard(t *testing.T) {
	s := newSession(t, vcard.ProfilePIV)
	serial := s.run(nil, "opensc-tool", "-r", s.reader, "--serial")
	if !regexp.MustCompile(`^([0-9A-F]{2} ){16}`).MatchString(serial) {
		t.Errorf("opensc-tool --serial printed %q, want the 16-byte CHUID GUID", serial)
	}
	if got := s.run(nil, "piv-tool", "-r", s.reader, "--serial"); got != serial {
		t.Errorf("piv-tool --serial printed %q, opensc-tool %q", got, serial)
	}
	certs := map[string]*x509.Certificate{"01": nil, "02": nil, "03": nil, "04": nil}
	s.opensc(certs, "Bench User", true)
	if !s.b.Real() {
		roots := x509.NewCertPool()
		roots.AddCert(s.b.CA.Cert)
		for id, c := range certs {
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("certificate %s does not verify to the bench CA: %v", id, err)
			}
		}
		// The 9A certificate carries the UPN the piv profile promises.
		if !bytes.Contains(certs["01"].Raw, []byte("bench.user@pivauth.test")) {
			t.Error("9A certificate lacks the UPN bench.user@pivauth.test")
		}
	}
	// No Yubico extensions on a government card.
	s.fail("Failed to attest data.", "yubico-piv-tool", "-r", s.reader, "-a", "attest", "-s", "9a")
}

// TestCardModes runs OpenSC and yubico-piv-tool against a government-style card of each kind
// of benchtest.CardModes: the ATR pcscd reports is the mode's, OpenSC reads the certificates and
// signs through PKCS#11, yubico-piv-tool reads 9D, verifies the PIN, signs with it and counts
// the card's own number of PIN tries down.
func TestCardModes(t *testing.T) {
	for _, m := range benchtest.CardModes {
		t.Run(m.Name, func(t *testing.T) {
			s := newSession(t, vcard.ProfilePIV, m.Option())
			if s.b.Real() {
				t.Skip("card modes are virtual cards")
			}
			certs := map[string]*x509.Certificate{"01": nil, "02": nil, "03": nil, "04": nil}
			s.opensc(certs, "Bench User", m.OpenSCOffersECDSA())

			// 9D: yubico-piv-tool 2.2 reads no gzip-compressed certificate (9A's and 9C's).
			if got := parseCertPEM(t, []byte(s.ypt(nil, "-a", "read-certificate", "-s", "9d"))); !got.Equal(certs["03"]) {
				t.Errorf("yubico-piv-tool read %v from 9d, OpenSC %v", got.Subject, certs["03"].Subject)
			}
			s.write("cert9d.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs["03"].Raw}))
			s.ypt([]string{"Successfully verified PIN.", "Successful ECDSA verification."},
				"-a", "verify-pin", "-P", factoryPIN, "-a", "test-signature", "-s", "9d", "-i", "cert9d.pem")
			s.fail(fmt.Sprintf("%d tries left", m.PINTries()-1), "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "000000")
			s.ypt([]string{"Successfully verified PIN."}, "-a", "verify-pin", "-P", factoryPIN)
		})
	}
}
