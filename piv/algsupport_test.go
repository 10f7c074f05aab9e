package piv

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckAlgorithm: a YubiKey's firmware version refuses what that firmware lacks before
// anything is generated; a card that only answers Yubico's GET VERSION is not judged by it.
func TestCheckAlgorithm(t *testing.T) {
	yk := func(major, minor int) Identity {
		return Identity{YubicoExtensions: true, YubiKey: true, Version: Version{major, minor, 3}, Serial: 1}
	}
	applet := Identity{YubicoExtensions: true, Version: Version{5, 4, 0}, Serial: 1}
	for _, tc := range []struct {
		id      Identity
		alg     Algorithm
		refused bool
	}{
		{yk(5, 4), AlgEd25519, true},
		{yk(5, 4), AlgRSA4096, true},
		{yk(5, 4), AlgECCP384, false},
		{yk(5, 4), AlgRSA2048, false},
		{yk(5, 7), AlgEd25519, false},
		{yk(5, 7), AlgX25519, false},
		{yk(3, 4), AlgECCP384, true},
		{applet, AlgEd25519, false},
		{applet, AlgRSA3072, false},
	} {
		err := checkAlgorithm(tc.id, tc.alg)
		var ue *UnsupportedAlgorithmError
		if got := errors.As(err, &ue); got != tc.refused {
			t.Errorf("%s, %s: refused %v (%v), want %v", tc.id, tc.alg, got, err, tc.refused)
			continue
		}
		if tc.refused && (!strings.Contains(err.Error(), "this card does not support "+tc.alg.String()) ||
			!strings.Contains(err.Error(), "firmware "+tc.id.Version.String())) {
			t.Errorf("message %q", err)
		}
	}
}
