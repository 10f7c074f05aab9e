package piv

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

func TestParseSlot(t *testing.T) {
	for in, want := range map[string]Slot{
		"9a": SlotAuthentication, "9A": SlotAuthentication, "0x9c": SlotSignature, "9d": SlotKeyManagement,
		"9e": SlotCardAuthentication, "signature": SlotSignature, "82": {0x82, 0x5FC10D}, "95": {0x95, 0x5FC120},
		"f9": SlotAttestation,
	} {
		got, err := ParseSlot(in)
		if err != nil || got != want {
			t.Errorf("ParseSlot(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "9b", "81", "96", "zz", "9a9"} {
		if _, err := ParseSlot(in); err == nil {
			t.Errorf("ParseSlot(%q) succeeded", in)
		}
	}
	if s, ok := RetiredSlot(0x8B); !ok || s.Object != 0x5FC116 || s.String() != "8b" {
		t.Errorf("RetiredSlot(8B) = %v %v", s, ok)
	}
}

func TestAlgorithmOf(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	for want, pub := range map[Algorithm]any{AlgECCP384: ec.Public(), AlgEd25519: ed, AlgRSA1024: rk.Public()} {
		if got, err := AlgorithmOf(pub); err != nil || got != want {
			t.Errorf("AlgorithmOf(%T) = %v %v, want %v", pub, got, err, want)
		}
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := AlgorithmOf(p224.Public()); err == nil {
		t.Error("P-224 accepted")
	}
}
