package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/signer/purpose"
)

// softKey returns an ECDSA key and a self-signed certificate for it.
func softKey(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit test"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func TestSignerRecordsPurposeAndRequester(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	l, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, cert := softKey(t)
	w := Wrap(key, Key{Card: "serial:42", Reader: "Virtual PCD 00 00", Slot: "9a", Certificate: cert.Raw}, l, nil)

	why := purpose.Purpose{TokenEndpoint: "https://idp.example/token", ClientID: "app-1", JTI: "8d0c6c1e-jti"}
	ctx := WithRequester(purpose.With(context.Background(), why), Requester{PID: 77, UID: 1000, Command: "pivauth"})
	digest := sha256.Sum256([]byte("payload"))
	sig, err := purpose.Bind(ctx, w).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Fatal("wrapped signature does not verify")
	}
	// A TLS handshake is told apart by its server name.
	tlsCtx := purpose.With(context.Background(), purpose.Purpose{ServerName: "api.example"})
	if _, err := w.SignContext(tlsCtx, rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	// A failing operation is recorded with its class.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Wrap(failingSigner{key}, Key{Slot: "9c"}, l, nil).SignContext(canceled, rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, context.Canceled) {
		t.Fatalf("failing signer: %v", err)
	}

	evs, _, err := Read(dir, Filter{})
	if err != nil || len(evs) != 3 {
		t.Fatalf("Read: %d events, %v; want 3", len(evs), err)
	}
	sum := sha256.Sum256(cert.Raw)
	if got, want := evs[0].CertSHA256, strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
	if e := evs[0]; e.Operation != OpSign || e.Purpose != why || e.Requester == nil || *e.Requester != (Requester{PID: 77, UID: 1000, Command: "pivauth"}) ||
		e.Card != "serial:42" || e.Reader != "Virtual PCD 00 00" || e.Slot != "9a" || e.Result != ResultOK {
		t.Errorf("assertion event: %+v", e)
	}
	if e := evs[1]; e.Operation != OpTLSHandshake || e.Purpose.ServerName != "api.example" || e.Requester != nil {
		t.Errorf("handshake event: %+v", e)
	}
	if e := evs[2]; e.Result != ResultCanceled || e.Slot != "9c" {
		t.Errorf("failed event: %+v", e)
	}
}

// failingSigner honours the context the way the card signer does: a canceled PIN prompt fails the
// operation.
type failingSigner struct{ *ecdsa.PrivateKey }

func (f failingSigner) SignContext(ctx context.Context, _ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, ctx.Err()
}

// When the trail cannot be written the signature is not handed out.
func TestSignerWithholdsSignatureWhenLogFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	l, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil { // the log's directory vanishes under it
		t.Fatal(err)
	}
	key, _ := softKey(t)
	digest := sha256.Sum256([]byte("x"))
	sig, err := Wrap(key, Key{}, l, nil).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err == nil || sig != nil {
		t.Fatalf("Sign with a broken log = %x, %v; want no signature and an error", sig, err)
	}
	if !strings.Contains(err.Error(), "withheld") {
		t.Errorf("error %q does not say the signature was withheld", err)
	}
}

// The event type must never be able to carry a secret: no field (at any depth) is named for one.
// A new field called e.g. "pin_hint" or "access_token" fails this test and needs a conscious
// decision.
func TestEventHasNoFieldForSecrets(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)pin|puk|secret|password|passwd|assertion|signature|access|refresh|bearer|credential|key|token`)
	allowed := map[string]bool{"token_endpoint": true}
	var walk func(reflect.Type, string)
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || tp == reflect.TypeFor[time.Time]() {
			return
		}
		for f := range tp.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if forbidden.MatchString(name) && !allowed[name] {
				t.Errorf("field %s.%s (json %q) is named for a secret", path, f.Name, name)
			}
			if k := f.Type.Kind(); k == reflect.Interface || k == reflect.Map || (k == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8) {
				t.Errorf("field %s.%s is a %s: free-form data could carry a secret", path, f.Name, f.Type)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[Event](), "Event")
}
