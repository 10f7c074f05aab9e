package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Yubico attestation certificate extensions.
var (
	oidYubicoFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidYubicoSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidYubicoPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidYubicoFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// cmdGetVersion is Yubico's GET VERSION (00 FD 00 00): major minor patch.
func (c *Card) cmdGetVersion(command) ([]byte, int) {
	v := c.firmwareVersion()
	return v[:], swOK
}

// cmdGetSerial is Yubico's GET SERIAL (00 F8 00 00): 4 bytes big-endian.
func (c *Card) cmdGetSerial(command) ([]byte, int) {
	return binary.BigEndian.AppendUint32(nil, c.st.Serial), swOK
}

// cmdGetMetadata is Yubico's GET METADATA (00 F7 00 ref), firmware 5.3+:
//
//	PIN 80 / PUK 81: 01 alg(FF), 05 default?, 06 total+remaining tries
//	management 9B:   01 alg, 02 policy (00, touch), 05 default?
//	key slots, F9:   01 alg, 02 PIN+touch policy, 03 origin, 04 public key
func (c *Card) cmdGetMetadata(cmd command) ([]byte, int) {
	if cmd.p1 != 0 {
		return nil, swIncorrectP1P2
	}
	if c.has(QuirkYubicoCompatible) {
		return c.compatMetadata(cmd.p2)
	}
	flag := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	switch ref := cmd.p2; {
	case ref == refPIN || ref == refPUK:
		value, tries, max := c.reference(ref)
		def := defaultPIN
		if ref == refPUK {
			def = defaultPUK
		}
		out := tlv.Encode(0x01, []byte{0xFF})
		out = tlv.Append(out, 0x05, flag(bytes.Equal(*value, def)))
		return tlv.Append(out, 0x06, []byte{byte(max), byte(*tries)}), swOK
	case ref == keyCardManagement:
		touch := byte(touchNever)
		if c.st.MgmtTouch {
			touch = touchAlways
		}
		out := tlv.Encode(0x01, []byte{c.st.MgmtAlg})
		out = tlv.Append(out, 0x02, []byte{0x00, touch})
		return tlv.Append(out, 0x05, flag(bytes.Equal(c.st.MgmtKey, c.st.DefaultMgmt))), swOK
	case isKeySlot(ref) || ref == keyAttestation:
		k := c.st.Keys[slotName(ref)]
		if k == nil {
			return nil, swReferenceNotFound
		}
		priv, err := k.private()
		if err != nil {
			return nil, swNoPreciseDiagnostic
		}
		out := tlv.Encode(0x01, []byte{k.Alg})
		out = tlv.Append(out, 0x02, []byte{k.PINPolicy, k.TouchPolicy})
		out = tlv.Append(out, 0x03, []byte{k.Origin})
		return tlv.Append(out, 0x04, publicKeyData(publicOf(priv))), swOK
	}
	return nil, swReferenceNotFound
}

// cmdAttest is Yubico's ATTEST (00 F9 ref 00): a certificate for the key in
// the slot, signed by the F9 attestation key, issued under the F9
// certificate, with Yubico's firmware, serial, policy and form factor
// extensions. Empty slots and imported keys answer 6A80, as a YubiKey does.
//
// With the quirk yubico-compatible the certificate is not strict DER (see
// laxAttestationDER) and a P-384 key cannot be attested: 6F00, the status a
// Java Card runtime answers for an exception the applet did not catch, which
// is what the independent applet of issue 14 answered right after
// generating a P-384 key.
func (c *Card) cmdAttest(cmd command) ([]byte, int) {
	if !isKeySlot(cmd.p1) || cmd.p2 != 0 {
		return nil, swIncorrectP1P2
	}
	k := c.st.Keys[slotName(cmd.p1)]
	if k == nil || k.Origin != originGenerated {
		return nil, swIncorrectData
	}
	compat := c.has(QuirkYubicoCompatible)
	if compat && k.Alg == algECCP384 {
		return nil, swNoPreciseDiagnostic
	}
	f9 := c.st.Keys[slotName(keyAttestation)]
	issuer, status := c.attestationCert()
	if f9 == nil || status != swOK {
		return nil, swReferenceNotFound
	}
	f9priv, err := f9.private()
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	signer := signerOf(f9priv)
	priv, err := k.private()
	if err != nil || signer == nil {
		return nil, swNoPreciseDiagnostic
	}
	serial, err := asn1.Marshal(int64(c.st.Serial))
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	version := c.firmwareVersion()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", cmd.p1)},
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidYubicoFirmware, Value: version[:]},
			{Id: oidYubicoSerial, Value: serial},
			{Id: oidYubicoPolicy, Value: []byte{k.PINPolicy, k.TouchPolicy}},
			{Id: oidYubicoFormFactor, Value: []byte{formFactor}},
		},
	}
	if compat {
		tmpl.Subject.CommonName = fmt.Sprintf("PIV Applet Attestation %02X", cmd.p1) // PivApplet's naming
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, publicOf(priv), signer)
	if err == nil && compat {
		der, err = laxAttestationDER(der, signer)
	}
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	return der, swOK
}

// attestationCert parses the certificate in object 5FFF01.
func (c *Card) attestationCert() (*x509.Certificate, int) {
	v, ok := c.st.Objects[objectName(tagAttestCert)]
	if !ok {
		return nil, swReferenceNotFound
	}
	der, found, err := tlv.Find(v, 0x70)
	if err != nil || !found {
		return nil, swReferenceNotFound
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, swReferenceNotFound
	}
	return cert, swOK
}

// cmdImportKey is Yubico's IMPORT ASYMMETRIC KEY (00 FE alg ref, key
// components, [AA pin] [AB touch]): RSA 01 P 02 Q 03 dP 04 dQ 05 qInv,
// EC 06 d, Ed25519 07 seed, X25519 08 scalar. Needs the management key.
func (c *Card) cmdImportKey(cmd command) ([]byte, int) {
	ref := cmd.p2
	if !isKeySlot(ref) && ref != keyAttestation {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth {
		return nil, swSecurityStatus
	}
	elems, ok := uniqueTLVs(cmd.data)
	if !ok {
		return nil, swIncorrectData
	}
	pp, tp, ok := parsePolicies(elems[0xAA], elems[0xAB], ref)
	if !ok {
		return nil, swIncorrectData
	}
	if c.has(QuirkYubicoCompatible) {
		if status := compatTouchPolicy(elems[0xAB]); status != swOK {
			return nil, status
		}
	}
	delete(elems, 0xAA)
	delete(elems, 0xAB)
	if !knownAlgorithm(cmd.p1) {
		return nil, swIncorrectP1P2
	}
	priv, err := importedKey(cmd.p1, elems)
	if err != nil {
		return nil, swIncorrectData
	}
	if ref == keyAttestation && signerOf(priv) == nil {
		return nil, swIncorrectData // the attestation key must sign
	}
	k, err := newSlotKey(priv, cmd.p1, pp, tp, originImported)
	if err != nil {
		return nil, swIncorrectData
	}
	c.st.Keys[slotName(ref)] = k
	return nil, c.commit()
}

// importedKey builds a private key from IMPORT KEY components; every
// component must be there, nothing else.
func importedKey(alg byte, elems map[uint32][]byte) (crypto.PrivateKey, error) {
	want := func(tags ...uint32) error {
		if len(elems) != len(tags) {
			return fmt.Errorf("want %d components, got %d", len(tags), len(elems))
		}
		for _, t := range tags {
			if _, ok := elems[t]; !ok {
				return fmt.Errorf("component %02X missing", t)
			}
		}
		return nil
	}
	if bits, ok := rsaBits[alg]; ok {
		if err := want(1, 2, 3, 4, 5); err != nil {
			return nil, err
		}
		return rsaFromCRT(bits, elems)
	}
	switch alg {
	case algECCP256, algECCP384:
		if err := want(6); err != nil {
			return nil, err
		}
		curve := elliptic.P256()
		if alg == algECCP384 {
			curve = elliptic.P384()
		}
		size := (curve.Params().BitSize + 7) / 8
		d := elems[6]
		if len(d) > size {
			return nil, fmt.Errorf("EC scalar too long")
		}
		return ecdsa.ParseRawPrivateKey(curve, append(make([]byte, size-len(d)), d...))
	case algEd25519:
		if err := want(7); err != nil {
			return nil, err
		}
		if len(elems[7]) != ed25519.SeedSize {
			return nil, fmt.Errorf("Ed25519 seed must be 32 bytes")
		}
		return ed25519.NewKeyFromSeed(elems[7]), nil
	case algX25519:
		if err := want(8); err != nil {
			return nil, err
		}
		return ecdh.X25519().NewPrivateKey(elems[8])
	}
	return nil, fmt.Errorf("algorithm %02X not supported", alg)
}

// rsaFromCRT rebuilds an RSA key with e = 65537 (the only exponent a YubiKey
// takes) from its primes and checks the CRT values against them.
func rsaFromCRT(bits int, elems map[uint32][]byte) (*rsa.PrivateKey, error) {
	half := bits / 16
	for t := uint32(1); t <= 5; t++ {
		if len(elems[t]) == 0 || len(elems[t]) > half {
			return nil, fmt.Errorf("RSA component %02X has a bad length", t)
		}
	}
	p := new(big.Int).SetBytes(elems[1])
	q := new(big.Int).SetBytes(elems[2])
	one := big.NewInt(1)
	if p.Cmp(one) <= 0 || q.Cmp(one) <= 0 {
		return nil, fmt.Errorf("RSA primes out of range")
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != bits {
		return nil, fmt.Errorf("RSA modulus is %d bits, not %d", n.BitLen(), bits)
	}
	e := big.NewInt(65537)
	p1 := new(big.Int).Sub(p, one)
	q1 := new(big.Int).Sub(q, one)
	phi := new(big.Int).Mul(p1, q1)
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return nil, fmt.Errorf("RSA exponent not invertible")
	}
	dp := new(big.Int).Mod(d, p1)
	dq := new(big.Int).Mod(d, q1)
	qinv := new(big.Int).ModInverse(q, p)
	if qinv == nil || dp.Cmp(new(big.Int).SetBytes(elems[3])) != 0 || dq.Cmp(new(big.Int).SetBytes(elems[4])) != 0 ||
		qinv.Cmp(new(big.Int).SetBytes(elems[5])) != 0 {
		return nil, fmt.Errorf("RSA CRT values do not match the primes")
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	k.Precompute()
	return k, nil
}

// cmdSetPINRetries is Yubico's SET PIN RETRIES (00 FA pin puk): needs the
// management key and the PIN, and puts PIN and PUK back to their defaults.
func (c *Card) cmdSetPINRetries(cmd command) ([]byte, int) {
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth || !c.vol.pinVerified {
		return nil, swSecurityStatus
	}
	c.st.PIN, c.st.PUK = bytes.Clone(defaultPIN), bytes.Clone(defaultPUK)
	c.st.PINMaxTries, c.st.PUKMaxTries = int(cmd.p1), int(cmd.p2)
	c.st.PINTries, c.st.PUKTries = int(cmd.p1), int(cmd.p2)
	return nil, c.commit()
}

// cmdReset is Yubico's RESET (00 FB 00 00): back to factory settings, allowed
// only when both PIN and PUK are blocked. The attestation key and its
// certificate survive, as on a YubiKey.
func (c *Card) cmdReset(cmd command) ([]byte, int) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swIncorrectP1P2
	}
	if c.st.PINTries != 0 || c.st.PUKTries != 0 {
		return nil, swConditionsNotMet
	}
	f9 := c.st.Keys[slotName(keyAttestation)]
	attest, hasAttest := c.st.Objects[objectName(tagAttestCert)]
	resetCredentials(c.st)
	c.applyQuirksToState()
	if f9 != nil {
		c.st.Keys[slotName(keyAttestation)] = f9
	}
	if hasAttest {
		c.st.Objects[objectName(tagAttestCert)] = attest
	}
	c.vol = volatile{app: appPIV, lastTouch: c.vol.lastTouch}
	return nil, c.commit()
}

// cmdMoveKey is Yubico's MOVE KEY (00 F6 to from), firmware 5.7: moves a key
// to an empty slot, or deletes it when "to" is FF. Needs the management key.
func (c *Card) cmdMoveKey(cmd command) ([]byte, int) {
	to, from := cmd.p1, cmd.p2
	if !isKeySlot(from) || to != 0xFF && (!isKeySlot(to) || to == from) {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth {
		return nil, swSecurityStatus
	}
	k := c.st.Keys[slotName(from)]
	if k == nil {
		return nil, swReferenceNotFound
	}
	if to != 0xFF {
		if c.st.Keys[slotName(to)] != nil {
			return nil, swConditionsNotMet
		}
		c.st.Keys[slotName(to)] = k
	}
	delete(c.st.Keys, slotName(from))
	return nil, c.commit()
}

// cmdDeviceInfo is READ CONFIG of Yubico's management application
// (00 1D 00 00): length, then 02 serial, 04 form factor, 05 firmware.
func (c *Card) cmdDeviceInfo(command) ([]byte, int) {
	info := tlv.Encode(0x02, binary.BigEndian.AppendUint32(nil, c.st.Serial))
	info = tlv.Append(info, 0x04, []byte{formFactor})
	info = tlv.Append(info, 0x05, firmware[:])
	return append([]byte{byte(len(info))}, info...), swOK
}
