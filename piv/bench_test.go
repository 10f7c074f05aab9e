//go:build linux

package piv_test

import (
	"fmt"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// reportAPDUs reports the virtual card's counters per operation.
func reportAPDUs(b *testing.B, bench *benchtest.Bench) {
	st := bench.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(st.APDUs)/n, "apdus/op")
	b.ReportMetric(float64(st.BytesIn+st.BytesOut)/n, "cardbytes/op")
}

// BenchmarkSign counts the APDUs of one signature per algorithm, steady
// state (card open, PIV selected): 1 for a key without PIN, 3 with the PIN
// (VERIFY, GENERAL AUTHENTICATE, VERIFY P1=FF).
//
//	go test ./piv -run '^$' -bench Sign -benchtime 20x
func BenchmarkSign(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfileYubiKey)
	bench.Destructive()
	c := openBench(b, bench)
	ctx := testContext(b)
	msg := []byte("benchmark")
	for i, tc := range []struct {
		alg piv.Algorithm
		pin piv.PINPolicy
	}{
		{piv.AlgECCP256, piv.PINPolicyNever},
		{piv.AlgECCP256, piv.PINPolicyAlways},
		{piv.AlgECCP384, piv.PINPolicyNever},
		{piv.AlgEd25519, piv.PINPolicyNever},
		{piv.AlgRSA2048, piv.PINPolicyNever},
		{piv.AlgRSA2048, piv.PINPolicyOnce},
		{piv.AlgRSA3072, piv.PINPolicyNever},
		{piv.AlgRSA4096, piv.PINPolicyNever},
	} {
		slot, _ := piv.RetiredSlot(byte(0x82 + i))
		pub := generate(b, c, slot, tc.alg, tc.pin)
		in, _ := signInput(b, pub, msg)
		if tc.alg == piv.AlgEd25519 {
			in = msg // Ed25519 signs the message itself
		}
		b.Run(fmt.Sprintf("%s/pin=%s", tc.alg, tc.pin), func(b *testing.B) {
			op := func(tx *piv.Tx) error { _, err := tx.Sign(slot, tc.alg, in); return err }
			bench.ResetStats()
			for b.Loop() {
				var err error
				if tc.pin == piv.PINPolicyNever {
					err = c.Transaction(ctx, op)
				} else {
					err = withPIN(b, c, op)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			reportAPDUs(b, bench)
		})
	}
}

// BenchmarkColdProcess counts what a process starting cold spends on the
// piv profile: open (SELECT), read the 9A certificate, one PIN-protected
// RSA-2048 signature, close.
func BenchmarkColdProcess(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfilePIV)
	ctx := testContext(b)
	msg := []byte("cold")
	bench.ResetStats()
	for b.Loop() {
		c, err := piv.Open(ctx, piv.Selector{Reader: bench.Reader})
		if err != nil {
			b.Fatal(err)
		}
		cert, err := c.Certificate(ctx, piv.SlotAuthentication)
		if err != nil {
			b.Fatal(err)
		}
		in, _ := signInput(b, cert.PublicKey, msg)
		if err := withPIN(b, c, func(tx *piv.Tx) error { _, err := tx.Sign(piv.SlotAuthentication, piv.AlgRSA2048, in); return err }); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	reportAPDUs(b, bench)
}
