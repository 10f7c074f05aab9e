package piv

import "testing"

func TestATR(t *testing.T) {
	for _, tc := range []struct {
		name    string
		atr     string
		ext     extSupport
		yubikey bool
	}{
		// YubiKey 5 NFC: card capabilities 73 C0 21 C0, issuer data "Yubikey".
		{"yubikey5", "3BFD1300008131FE158073C021C057597562694B657940", extYes, true},
		// Card capabilities without the extended-length bit.
		{"no ext", "3B8880018073C021805F1F1F1F", extNo, false},
		// T=1 ATR with proprietary historical bytes.
		{"silent", "3B8A80014A434F5033315632333271", extUnknown, false},
		{"truncated", "3BFD13", extUnknown, false},
	} {
		atr := unhex(t, tc.atr)
		if got := atrExtended(atr); got != tc.ext {
			t.Errorf("%s: extended %d, want %d", tc.name, got, tc.ext)
		}
		if got := atrSaysYubiKey(atr); got != tc.yubikey {
			t.Errorf("%s: YubiKey %v", tc.name, got)
		}
	}
}

func FuzzATR(f *testing.F) {
	f.Add(unhex(f, "3BFD1300008131FE158073C021C057597562694B657940"))
	f.Add(unhex(f, "3B8880018073C021805F1F1F1F"))
	f.Fuzz(func(t *testing.T, atr []byte) {
		hist, err := historicalBytes(atr)
		if err == nil && len(hist) != int(atr[1]&0x0F) {
			t.Fatalf("%d historical bytes, T0 says %d", len(hist), atr[1]&0x0F)
		}
		if atrExtended(atr) != extUnknown && err != nil {
			t.Fatal("extended-length support read from an ATR that does not parse")
		}
		atrSaysYubiKey(atr)
	})
}
