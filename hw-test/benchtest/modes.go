package benchtest

import (
	"slices"

	"github.com/pivauth/pivauth/hw-test/vcard"
)

// CardMode is a kind of real card the suites run against: a name for test
// output and the vcard quirks that make the virtual card behave like it.
type CardMode struct {
	Name   string
	Quirks []vcard.Quirk
}

// CardModes are the card kinds of issue 14 that the interop, signer, engine
// and CLI suites each loop over (one table-driven test per layer). Adding a
// mode is one line here.
var CardModes = []CardMode{
	// A Java Card PIV applet: the runtime selects only on a short SELECT,
	// the ATR says nothing about lengths, other commands take extended ones.
	{"javacard", []vcard.Quirk{vcard.QuirkShortSelectOnly, vcard.QuirkATRBare}},
	// No extended length at all, and an ATR that does not say so: everything
	// chained, long answers through 61xx and GET RESPONSE.
	{"short-only", []vcard.Quirk{vcard.QuirkATRBare, vcard.QuirkNoExtended}},
	// Extended length works but the ATR does not announce it.
	{"ext-unannounced", []vcard.Quirk{vcard.QuirkATRBare}},
	// 5 PIN tries instead of 3.
	{"five-pin-tries", []vcard.Quirk{vcard.QuirkFivePINTries}},
	// A Java Card PIV applet with Yubico's extensions (PivApplet): GET
	// VERSION, metadata, per-key PIN policies and attestation, under an ATR
	// that names no YubiKey.
	{"yubico-applet", []vcard.Quirk{vcard.QuirkShortSelectOnly, vcard.QuirkATRBare, vcard.QuirkYubicoCompatible}},
}

// Has reports whether the mode includes quirk q.
func (m CardMode) Has(q vcard.Quirk) bool { return slices.Contains(m.Quirks, q) }

// PINTries is the number of PIN tries a factory-fresh card of the mode has.
func (m CardMode) PINTries() int {
	if m.Has(vcard.QuirkFivePINTries) {
		return 5
	}
	return 3
}

// YubiKeyProfileKind is what `pivauth cards` calls the mode's yubikey-profile
// card: "yubikey", or "piv" for an applet with Yubico's extensions under an
// ATR that names no YubiKey (piv.Identity: a YubiKey is the extensions and a
// YubiKey ATR).
func (m CardMode) YubiKeyProfileKind() string {
	if m.Has(vcard.QuirkYubicoCompatible) {
		return "piv"
	}
	return "yubikey"
}

// StrictAttestation reports whether the mode's yubikey-profile card gives
// attestation certificates that Go's x509 parses (strict DER). An applet
// with Yubico's extensions does not (QuirkYubicoCompatible): a key generated
// there is in the slot, its attestation unverified.
func (m CardMode) StrictAttestation() bool { return !m.Has(vcard.QuirkYubicoCompatible) }

// OpenSCOffersECDSA reports whether OpenSC's PIV driver offers ECDSA for the
// mode's cards. The yubico-applet mode's ATR is the JCOP 2.4.1 default ATR
// (3B F8 13 00 00 81 31 FE 45 "JCOPv241" B7), which OpenSC's card-piv.c
// lists as a PIVKey token (SC_CARD_TYPE_PIV_II_PIVKEY) and gives the card
// issues CI_NO_EC | CI_NO_EC384: piv_init then registers RSA only, and
// C_SignInit with CKM_ECDSA fails CKR_MECHANISM_INVALID. A real PivApplet on
// a JCOP card meets the same.
func (m CardMode) OpenSCOffersECDSA() bool { return !m.Has(vcard.QuirkYubicoCompatible) }

// Option is the benchtest.Start option that gives the card the mode's quirks.
func (m CardMode) Option() Option { return WithQuirks(m.Quirks...) }
