package purpose_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/pivauth/pivauth/signer/purpose"
)

// contextKey is a ContextSigner that keeps the purpose of its last signature.
type contextKey struct {
	*ecdsa.PrivateKey
	last purpose.Purpose
}

func (k *contextKey) SignContext(ctx context.Context, r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.last = purpose.From(ctx)
	return k.PrivateKey.Sign(r, digest, opts)
}

// Code that only knows crypto.Signer (a JWS library, crypto/tls) signs through Bind, and the key
// learns the purpose the caller put in the context.
func TestBindCarriesThePurposeToTheKey(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := &contextKey{PrivateKey: priv}
	want := purpose.Purpose{TokenEndpoint: "https://idp.example/token", ClientID: "app-1", JTI: "j-1"}
	digest := sha256.Sum256([]byte("payload"))
	sig, err := purpose.Bind(purpose.With(context.Background(), want), key).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
		t.Fatalf("bound signature: %v", err)
	}
	if key.last != want {
		t.Errorf("the key saw purpose %+v, want %+v", key.last, want)
	}
	if got := purpose.From(context.Background()); got != (purpose.Purpose{}) {
		t.Errorf("From(a context without purpose) = %+v, want the zero Purpose", got)
	}
}

func TestBindLeavesPlainSignersAlone(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := purpose.Bind(context.Background(), key); got != crypto.Signer(key) {
		t.Fatalf("Bind(plain signer) = %T, want the signer itself", got)
	}
}
