package vcard

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Asymmetric algorithm identifiers (SP 800-78-4 table 6-2, Yubico for E0/E1).
const (
	algRSA1024 = 0x06
	algRSA2048 = 0x07
	algRSA3072 = 0x05
	algRSA4096 = 0x16
	algECCP256 = 0x11
	algECCP384 = 0x14
	algEd25519 = 0xE0
	algX25519  = 0xE1
)

// rsaBits maps the RSA algorithm identifiers to modulus sizes.
var rsaBits = map[byte]int{algRSA1024: 1024, algRSA2048: 2048, algRSA3072: 3072, algRSA4096: 4096}

// PIN and touch policies as GENERATE, IMPORT, GET METADATA and attestation
// encode them. 0 in a command means "the slot's default".
const (
	pinNever    = 0x01
	pinOnce     = 0x02
	pinAlways   = 0x03
	touchNever  = 0x01
	touchAlways = 0x02
	touchCached = 0x03

	originGenerated = 0x01
	originImported  = 0x02
)

// touchCacheTime is how long a touch satisfies a "cached" touch policy key.
const touchCacheTime = 15 * time.Second

// Key references.
const (
	keyAuthentication     = 0x9A
	keyCardManagement     = 0x9B
	keySignature          = 0x9C
	keyKeyManagement      = 0x9D
	keyCardAuthentication = 0x9E
	keyAttestation        = 0xF9
	refPIN                = 0x80
	refPUK                = 0x81
)

// isKeySlot reports whether ref names an asymmetric key slot usable with
// GENERAL AUTHENTICATE and GENERATE: 9A, 9C, 9D, 9E and the retired 82..95.
func isKeySlot(ref byte) bool {
	switch ref {
	case keyAuthentication, keySignature, keyKeyManagement, keyCardAuthentication:
		return true
	}
	return ref >= 0x82 && ref <= 0x95
}

// defaultPINPolicy is what a slot uses when GENERATE or IMPORT asks for the
// default: SP 800-73-4 access rules, as the YubiKey applies them.
func defaultPINPolicy(ref byte) byte {
	switch ref {
	case keySignature:
		return pinAlways
	case keyCardAuthentication, keyAttestation:
		return pinNever
	}
	return pinOnce
}

func slotName(ref byte) string { return fmt.Sprintf("%02x", ref) }

// generateKey makes a fresh private key of a PIV algorithm.
func generateKey(alg byte) (crypto.PrivateKey, error) {
	if bits, ok := rsaBits[alg]; ok {
		return rsa.GenerateKey(rand.Reader, bits)
	}
	switch alg {
	case algECCP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case algECCP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case algEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case algX25519:
		return ecdh.X25519().GenerateKey(rand.Reader)
	}
	return nil, fmt.Errorf("algorithm %02X not supported", alg)
}

// newSlotKey stores a private key with its policies.
func newSlotKey(priv crypto.PrivateKey, alg, pinPolicy, touchPolicy, origin byte) (*slotKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &slotKey{Alg: alg, PINPolicy: pinPolicy, TouchPolicy: touchPolicy, Origin: origin, PKCS8: der, priv: priv}, nil
}

// knownAlgorithm reports whether alg is an asymmetric algorithm of the card.
func knownAlgorithm(alg byte) bool {
	switch alg {
	case algECCP256, algECCP384, algEd25519, algX25519:
		return true
	}
	_, rsa := rsaBits[alg]
	return rsa
}

// signerOf returns the crypto.Signer of a slot key, nil for X25519 keys.
func signerOf(priv crypto.PrivateKey) crypto.Signer {
	s, _ := priv.(crypto.Signer)
	return s
}

// publicOf returns the public key of a slot key.
func publicOf(priv crypto.PrivateKey) crypto.PublicKey {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	case *ecdh.PrivateKey:
		return k.PublicKey()
	}
	return nil
}

// publicKeyData is the content of the 7F49 template (GENERATE) and of tag 04
// of GET METADATA: 81 modulus 82 exponent for RSA, 86 point for the rest.
func publicKeyData(pub crypto.PublicKey) []byte {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		out := tlv.Encode(0x81, k.N.Bytes())
		return tlv.Append(out, 0x82, big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil
		}
		return tlv.Encode(0x86, e.Bytes())
	case ed25519.PublicKey:
		return tlv.Encode(0x86, k)
	case *ecdh.PublicKey:
		return tlv.Encode(0x86, k.Bytes())
	}
	return nil
}

// parsePolicies reads the optional Yubico PIN (AA) and touch (AB) policy
// values (nil when the tag is absent), resolving 0 to the slot default. ok is
// false for a malformed or unknown policy.
func parsePolicies(pin, touch []byte, ref byte) (pp, tp byte, ok bool) {
	pp, tp = defaultPINPolicy(ref), touchNever
	if pin != nil {
		if len(pin) != 1 || pin[0] > pinAlways {
			return 0, 0, false
		}
		if pin[0] != 0 {
			pp = pin[0]
		}
	}
	if touch != nil {
		if len(touch) != 1 || touch[0] > touchCached {
			return 0, 0, false
		}
		if touch[0] != 0 {
			tp = touch[0]
		}
	}
	return pp, tp, true
}

// cmdGenerate is GENERATE ASYMMETRIC KEY PAIR (00 47 00 ref, AC{80 alg,
// [AA pin] [AB touch]}): the new public key in 7F49.
func (c *Card) cmdGenerate(cmd command) ([]byte, int) {
	if cmd.p1 != 0 || !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth {
		return nil, swSecurityStatus
	}
	tmpl, err := tlv.Unwrap(cmd.data, 0xAC)
	if err != nil {
		return nil, swIncorrectData
	}
	elems, ok := uniqueTLVs(tmpl)
	if !ok {
		return nil, swIncorrectData
	}
	algTag, hasAlg := elems[0x80]
	if !hasAlg || len(algTag) != 1 {
		return nil, swIncorrectData
	}
	for tag := range elems {
		switch tag {
		case 0x80, 0x81:
		case 0xAA, 0xAB:
			if c.st.Profile != ProfileYubiKey {
				return nil, swIncorrectData
			}
		default:
			return nil, swIncorrectData
		}
	}
	pp, tp, ok := parsePolicies(elems[0xAA], elems[0xAB], cmd.p2)
	if !ok {
		return nil, swIncorrectData
	}
	if c.has(QuirkYubicoCompatible) {
		if status := compatTouchPolicy(elems[0xAB]); status != swOK {
			return nil, status
		}
	}
	if c.has(QuirkFewAlgorithms) && unsupportedByFewAlgorithms(algTag[0]) {
		return nil, swIncorrectData
	}
	time.Sleep(c.genDelay)
	priv, err := generateKey(algTag[0])
	if err != nil {
		return nil, swIncorrectData
	}
	k, err := newSlotKey(priv, algTag[0], pp, tp, originGenerated)
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	c.st.Keys[slotName(cmd.p2)] = k
	if status := c.commit(); status != swOK {
		return nil, status
	}
	return tlv.Encode(0x7F49, publicKeyData(publicOf(priv))), swOK
}

// uniqueTLVs parses a sequence of elements into a map; duplicate tags or bad
// encoding make ok false.
func uniqueTLVs(b []byte) (map[uint32][]byte, bool) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, false
	}
	m := make(map[uint32][]byte, len(elems))
	for _, e := range elems {
		if _, dup := m[e.Tag]; dup {
			return nil, false
		}
		m[e.Tag] = e.Value
	}
	return m, true
}

// cmdAuthenticate is GENERAL AUTHENTICATE (00 87 alg ref 7C{...}):
// management-key authentication on 9B, a private-key operation on the key
// slots: 7C{82 00, 81 data} signs or decrypts, 7C{82 00, 85 point} is ECDH.
func (c *Card) cmdAuthenticate(cmd command) ([]byte, int) {
	tmpl, err := tlv.Unwrap(cmd.data, 0x7C)
	if cmd.p2 == keyCardManagement {
		if err != nil {
			return nil, swIncorrectData
		}
		return c.mgmtAuthenticate(cmd.p1, tmpl)
	}
	if !isKeySlot(cmd.p2) {
		return nil, swIncorrectP1P2
	}
	k := c.st.Keys[slotName(cmd.p2)]
	if k == nil {
		return nil, swReferenceNotFound
	}
	if k.Alg != cmd.p1 {
		return nil, swIncorrectP1P2
	}
	if err != nil {
		return nil, swIncorrectData
	}
	elems, ok := uniqueTLVs(tmpl)
	if !ok || len(elems) != 2 {
		return nil, swIncorrectData
	}
	if resp, ok := elems[0x82]; !ok || len(resp) != 0 {
		return nil, swIncorrectData
	}
	challenge, sign := elems[0x81]
	point, exchange := elems[0x85]
	if sign == exchange {
		return nil, swIncorrectData
	}
	if status := c.keyAccess(k); status != swOK {
		return nil, status
	}
	priv, err := k.private()
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	c.operate(k.Alg)
	var out []byte
	var status int
	if sign {
		out, status = privateOp(priv, challenge)
	} else {
		out, status = sharedSecret(priv, point)
	}
	if status != swOK {
		return nil, status
	}
	c.countSignature()
	return tlv.Encode(0x7C, tlv.Encode(0x82, out)), swOK
}

// keyAccess checks the PIN policy of a key and waits for the touch its touch
// policy wants.
func (c *Card) keyAccess(k *slotKey) int {
	switch k.PINPolicy {
	case pinOnce:
		if !c.vol.pinVerified {
			return swSecurityStatus
		}
	case pinAlways:
		if !c.vol.pinVerified || !c.vol.cur.always {
			return swSecurityStatus
		}
	}
	c.touch(k.TouchPolicy)
	return swOK
}

// touch simulates the user touching the key.
func (c *Card) touch(policy byte) {
	now := time.Now()
	if policy == touchAlways || policy == touchCached && now.Sub(c.vol.lastTouch) > touchCacheTime {
		time.Sleep(c.touchDelay)
		c.vol.lastTouch = time.Now()
	}
}

// privateOp is the raw private-key operation: RSA m^d mod n on a full-size
// block (signature or decryption, the card cannot tell), ECDSA over a digest
// (DER signature), Ed25519 over a message.
func privateOp(priv crypto.PrivateKey, in []byte) ([]byte, int) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		size := k.Size()
		m := new(big.Int).SetBytes(in)
		if len(in) != size || m.Cmp(k.N) >= 0 {
			return nil, swIncorrectData
		}
		return rsaRaw(k, m).FillBytes(make([]byte, size)), swOK
	case *ecdsa.PrivateKey:
		if len(in) == 0 || len(in) > (k.Curve.Params().BitSize+7)/8 {
			return nil, swIncorrectData
		}
		sig, err := ecdsa.SignASN1(rand.Reader, k, in)
		if err != nil {
			return nil, swNoPreciseDiagnostic
		}
		return sig, swOK
	case ed25519.PrivateKey:
		return ed25519.Sign(k, in), swOK
	}
	return nil, swIncorrectData // X25519 keys only agree
}

// rsaRaw computes c^d mod n with the CRT values.
func rsaRaw(k *rsa.PrivateKey, c *big.Int) *big.Int {
	if len(k.Primes) != 2 || k.Precomputed.Dp == nil {
		return new(big.Int).Exp(c, k.D, k.N)
	}
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(c, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(c, k.Precomputed.Dq, q)
	h := m1.Sub(m1, m2)
	h.Mul(h, k.Precomputed.Qinv)
	h.Mod(h, p)
	h.Mul(h, q)
	return h.Add(h, m2)
}

// sharedSecret is ECDH with the peer's point (uncompressed for P-256/P-384,
// 32 bytes for X25519): the x coordinate or the X25519 output.
func sharedSecret(priv crypto.PrivateKey, point []byte) ([]byte, int) {
	var own *ecdh.PrivateKey
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, swIncorrectData
		}
		own = e
	case *ecdh.PrivateKey:
		own = k
	default:
		return nil, swIncorrectData
	}
	peer, err := own.Curve().NewPublicKey(point)
	if err != nil {
		return nil, swIncorrectData
	}
	secret, err := own.ECDH(peer)
	if err != nil {
		return nil, swIncorrectData
	}
	return secret, swOK
}

// equalSecret compares PINs, PUKs and authentication values in constant time.
func equalSecret(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
