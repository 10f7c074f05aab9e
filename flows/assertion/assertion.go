package assertion

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/pivauth/pivauth/signer/purpose"
)

// Lifetimes of an assertion. Entra and most providers refuse assertions valid for long; ten minutes
// is what MSAL itself uses.
const (
	DefaultLifetime = 5 * time.Minute
	MaxLifetime     = 10 * time.Minute
)

// ErrKeyMismatch is returned (wrapped) when the certificate does not belong to the signer's key:
// a server would reject the assertion, and on a card it usually means the slot's key was replaced
// without updating its certificate.
var ErrKeyMismatch = errors.New("the certificate does not match the signing key")

// Options describe one client assertion.
type Options struct {
	// Audience is the aud claim: the token endpoint URL for Entra and RFC 7523 providers.
	Audience string
	// ClientID is the OAuth client (application) id, used as iss and sub.
	ClientID string
	// Algorithm is the JWS alg; "" picks the key's default (DefaultAlgorithm).
	Algorithm string
	// Lifetime sets exp = iat + Lifetime; 0 means DefaultLifetime, more than MaxLifetime is refused.
	Lifetime time.Duration
	// X5T adds the SHA-1 "x5t" header next to the always present "x5t#S256" (ADFS and older
	// Entra documentation identify the certificate by SHA-1).
	X5T bool
	// X5C adds the "x5c" header: the certificate followed by Chain, for subject-name/issuer
	// authentication.
	X5C bool
	// Chain holds intermediate certificates sent after the leaf in x5c.
	Chain []*x509.Certificate
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Context is the context of the signature: it cancels a PIN prompt, and the audit purpose it
	// carries (the command) is completed with this assertion's audience, client id and jti, for a
	// signer that records its operations (a card signer wrapped by the audit log, the agent's
	// key). nil means context.Background().
	Context context.Context
}

// Claims are the JWT claims of a client assertion.
type Claims struct {
	Audience  string `json:"aud"`
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	ID        string `json:"jti"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
}

// New returns a compact JWS client assertion signed by signer, identified by cert. It signs exactly
// once and verifies the signature with the certificate's public key before returning, so a card
// that signed with another key than its certificate names is caught here, not by the server.
func New(signer crypto.Signer, cert *x509.Certificate, opts Options) (string, error) {
	if signer == nil || cert == nil {
		return "", errors.New("assertion: a signer and its certificate are required")
	}
	if opts.Audience == "" || opts.ClientID == "" {
		return "", errors.New("assertion: audience (the token endpoint) and client id are required")
	}
	if err := MatchCertificate(signer.Public(), cert); err != nil {
		return "", err
	}
	alg := opts.Algorithm
	if alg == "" {
		var err error
		if alg, err = DefaultAlgorithm(signer.Public()); err != nil {
			return "", err
		}
	} else if !slices.Contains(Algorithms(signer.Public()), alg) {
		return "", fmt.Errorf("assertion: a %s key cannot sign %s: use one of %v", KeyType(signer.Public()), alg, Algorithms(signer.Public()))
	}
	lifetime := opts.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	if lifetime < 0 || lifetime > MaxLifetime {
		return "", fmt.Errorf("assertion: lifetime %v is outside (0, %v]: providers reject longer-lived assertions", lifetime, MaxLifetime)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()
	claims := Claims{
		Audience:  opts.Audience,
		Issuer:    opts.ClientID,
		Subject:   opts.ClientID,
		ID:        uuid.NewString(),
		NotBefore: t.Unix(),
		IssuedAt:  t.Unix(),
		Expiry:    t.Add(lifetime).Unix(),
	}
	// The signer learns what it signs for: a card signer's audit record then names the token
	// endpoint, the client and the jti the identity provider logs.
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	p := purpose.From(ctx)
	p.TokenEndpoint, p.ClientID, p.JTI = opts.Audience, opts.ClientID, claims.ID
	signer = purpose.Bind(purpose.With(ctx, p), signer)

	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("assertion: encode claims: %w", err)
	}

	so := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", X5TS256(cert))
	if opts.X5T {
		so = so.WithHeader("x5t", X5T(cert))
	}
	if opts.X5C {
		x5c := []string{base64.StdEncoding.EncodeToString(cert.Raw)}
		for _, c := range opts.Chain {
			x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
		}
		so = so.WithHeader("x5c", x5c)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: opaque{signer}}, so)
	if err != nil {
		return "", fmt.Errorf("assertion: %s signer: %w", alg, err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", err // the signer's error says what failed; a wrap would only stack names
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("assertion: serialize: %w", err)
	}
	if err := verify(token, alg, cert); err != nil {
		return "", err
	}
	return token, nil
}

// MatchCertificate reports (as an error wrapping ErrKeyMismatch) whether cert is not for pub.
func MatchCertificate(pub crypto.PublicKey, cert *x509.Certificate) error {
	k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(pub) {
		sha1Hex, _ := Thumbprints(cert)
		return fmt.Errorf("assertion: certificate %q (SHA-1 %s, %s) holds another key than the signer (%s): %w; put the matching certificate on the slot or select the right slot",
			cert.Subject.String(), sha1Hex, KeyType(cert.PublicKey), KeyType(pub), ErrKeyMismatch)
	}
	return nil
}

// verify checks token's signature with the certificate's public key.
func verify(token, alg string, cert *x509.Certificate) error {
	obj, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err == nil {
		_, err = obj.Verify(cert.PublicKey)
	}
	if err != nil {
		return fmt.Errorf("assertion: the signer's %s signature does not verify with the certificate's key (%v): %w", alg, err, ErrKeyMismatch)
	}
	return nil
}

// opaque adapts a crypto.Signer to go-jose. It differs from go-jose's cryptosigner in the PSS salt
// length: RFC 7518 §3.5 fixes it at the hash size, and verifiers such as .NET (Entra) insist on it.
type opaque struct{ s crypto.Signer }

func (o opaque) Public() *jose.JSONWebKey { return &jose.JSONWebKey{Key: o.s.Public()} }

func (o opaque) Algs() []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, a := range Algorithms(o.s.Public()) {
		out = append(out, jose.SignatureAlgorithm(a))
	}
	return out
}

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	var hash crypto.Hash
	switch alg {
	case jose.EdDSA:
		// Ed25519 signs the message itself, not a digest.
		return o.s.Sign(rand.Reader, payload, crypto.Hash(0))
	case jose.RS256, jose.PS256, jose.ES256:
		hash = crypto.SHA256
	case jose.ES384:
		hash = crypto.SHA384
	default:
		return nil, jose.ErrUnsupportedAlgorithm
	}
	h := hash.New()
	h.Write(payload)
	digest := h.Sum(nil)
	switch alg {
	case jose.PS256:
		return o.s.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash})
	case jose.RS256:
		return o.s.Sign(rand.Reader, digest, hash)
	}
	der, err := o.s.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, err
	}
	return ecdsaRaw(der, o.s.Public().(*ecdsa.PublicKey))
}

// ecdsaRaw converts an ASN.1 DER ECDSA signature (what crypto.Signer and PIV cards return) to the
// fixed-size r||s form JWS requires (RFC 7518 §3.4).
func ecdsaRaw(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, fmt.Errorf("assertion: the signer returned a malformed ECDSA signature (%d bytes)", len(der))
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if sig.R.BitLen() > size*8 || sig.S.BitLen() > size*8 {
		return nil, fmt.Errorf("assertion: the signer returned an ECDSA signature too large for %s", pub.Curve.Params().Name)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
