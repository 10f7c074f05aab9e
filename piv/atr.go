package piv

import (
	"bytes"
	"errors"
)

// extSupport is what we know about a card's extended-length APDUs.
type extSupport uint8

const (
	extUnknown extSupport = iota // the ATR does not say: the first long command probes (planLength)
	extYes                       // announced by the ATR, or an extended command succeeded
	extNo                        // the ATR's capabilities lack it, or a probe failed where short APDUs succeeded
)

// historicalBytes returns the historical bytes of an ATR (ISO 7816-3 8.2).
func historicalBytes(atr []byte) ([]byte, error) {
	if len(atr) < 2 {
		return nil, errors.New("piv: ATR too short")
	}
	k := int(atr[1] & 0x0F)
	y := atr[1] >> 4
	i := 2
	for {
		for bit := byte(1); bit <= 4; bit <<= 1 { // TAi, TBi, TCi
			if y&bit != 0 {
				i++
			}
		}
		if y&8 == 0 { // no TDi
			break
		}
		if i >= len(atr) {
			return nil, errors.New("piv: ATR truncated in its interface bytes")
		}
		y = atr[i] >> 4
		i++
	}
	if i+k > len(atr) {
		return nil, errors.New("piv: ATR truncated in its historical bytes")
	}
	return atr[i : i+k], nil
}

// compactTLV returns the value of the compact-TLV object with the given
// tag (high nibble) in historical bytes, as ISO 7816-4 8.1.1 lays them out.
func compactTLV(hist []byte, tag byte) ([]byte, bool) {
	if len(hist) == 0 {
		return nil, false
	}
	var objs []byte
	switch hist[0] {
	case 0x80: // all compact-TLV
		objs = hist[1:]
	case 0x00: // compact-TLV followed by a 3-byte status indicator
		if len(hist) < 4 {
			return nil, false
		}
		objs = hist[1 : len(hist)-3]
	default:
		return nil, false
	}
	for len(objs) > 0 {
		t, n := objs[0]>>4, int(objs[0]&0x0F)
		if 1+n > len(objs) {
			return nil, false
		}
		if t == tag {
			return objs[1 : 1+n], true
		}
		objs = objs[1+n:]
	}
	return nil, false
}

// atrExtended reads the card capabilities in the ATR's historical bytes:
// their third software function byte has bit 0x40 set when the card takes
// extended Lc and Le fields.
func atrExtended(atr []byte) extSupport {
	hist, err := historicalBytes(atr)
	if err != nil {
		return extUnknown
	}
	caps, ok := compactTLV(hist, 0x7)
	if !ok {
		return extUnknown
	}
	if len(caps) >= 3 && caps[2]&0x40 != 0 {
		return extYes
	}
	return extNo
}

// atrSaysYubiKey reports whether the ATR names a YubiKey, which decides only
// the order of the identification probes (the probes themselves decide).
func atrSaysYubiKey(atr []byte) bool {
	hist, err := historicalBytes(atr)
	return err == nil && bytes.Contains(bytes.ToLower(hist), []byte("yubikey"))
}
