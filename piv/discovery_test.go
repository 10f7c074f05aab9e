package piv

import (
	"reflect"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func discoveryObject(policy ...byte) []byte {
	b := tlv.Append(nil, tagDiscoveryAID, []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00})
	return tlv.Append(b, tagDiscoveryPINPolicy, policy)
}

func TestParseDiscovery(t *testing.T) {
	for _, tc := range []struct {
		policy []byte
		want   Discovery
	}{
		{[]byte{0x40, 0x00}, Discovery{PIVPIN: true}},
		{[]byte{0x60, 0x10}, Discovery{PIVPIN: true, GlobalPIN: true}},
		{[]byte{0x60, 0x20}, Discovery{PIVPIN: true, GlobalPIN: true, PreferGlobal: true}},
		{[]byte{0x58, 0x10}, Discovery{PIVPIN: true, OCC: true, VCI: true, PairingCode: true}},
		{[]byte{0x4C, 0x10}, Discovery{PIVPIN: true, VCI: true}},
	} {
		d, err := ParseDiscovery(discoveryObject(tc.policy...))
		if err != nil {
			t.Fatalf("% X: %v", tc.policy, err)
		}
		if len(d.AID) != 11 {
			t.Errorf("% X: AID % X", tc.policy, d.AID)
		}
		d.AID = nil
		if !reflect.DeepEqual(*d, tc.want) {
			t.Errorf("% X: %+v, want %+v", tc.policy, *d, tc.want)
		}
	}
	if _, err := ParseDiscovery(discoveryObject(0x40)); err == nil {
		t.Error("1-byte policy parsed")
	}
	if _, err := ParseDiscovery([]byte{0x4F, 0x05, 0xA0}); err == nil {
		t.Error("truncated object parsed")
	}
}

func FuzzParseDiscovery(f *testing.F) {
	f.Add(discoveryObject(0x40, 0x10))
	f.Add(discoveryObject(0x7C, 0x20))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDiscovery(b)
		if err != nil {
			return
		}
		if d.PreferGlobal && !d.GlobalPIN {
			t.Fatal("global PIN preferred on a card without one")
		}
		if d.PairingCode && !d.VCI {
			t.Fatal("pairing code without a virtual contact interface")
		}
	})
}
