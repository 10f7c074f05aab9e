package vcard

// What the card's runtime does before an application sees a command, and
// the answer to reset it gives: the transport quirks of Java Card cards.
//
// The Java Card runtime environment (JCRE) is the model: its specification
// (Runtime Environment Specification, 9.4.4 "Extended Length APDU
// Specifics") answers 6700 to an extended-length APDU when the card or the
// selected applet does not take them (an applet without the
// javacardx.apdu.ExtendedLength interface, e.g. arekinath/PivApplet built
// without APPLET_EXTLEN), before the applet runs, and lets such an applet
// answer at most 256 bytes at once (the rest through 61xx and GET RESPONSE,
// which PivApplet implements itself). Application selection is the runtime's
// too: only a SELECT by AID it recognises selects; anything else goes to the
// selected applet's process(), and PivApplet answers an instruction it does
// not know with 6D00.

// transportRefusal returns the status word with which the runtime refuses
// cmd before any application sees it, or 0.
func (c *Card) transportRefusal(cmd command) int {
	if cmd.extended && c.has(QuirkNoExtended) {
		return swWrongLength
	}
	return 0
}

// selectNotRecognised reports an extended-length SELECT on a card whose
// runtime selects only on a short one (QuirkShortSelectOnly), and returns
// what the card answers instead: the selected PIV applet does not know the
// instruction (6D00, PivApplet's default); with no applet selected the
// runtime refuses the command (6986, what the Java Card PIV applet of
// issue 14 answered on a fresh card).
func (c *Card) selectNotRecognised(cmd command) (int, bool) {
	if !cmd.extended || !c.has(QuirkShortSelectOnly) {
		return 0, false
	}
	if c.vol.app == appNone {
		return swCommandNotAllowed, true
	}
	return swInsNotSupported, true
}

// bareATR returns atr with the card capabilities (compact-TLV tag 7) taken
// out of its historical bytes, T0's count and TCK adjusted; the interface
// bytes, T=1 and its IFSC included, stay. pcscd and vpcd read only the
// interface bytes to pick the protocol, so the card stays a T=1 card that
// says nothing about chaining or extended length, as many Java Card and
// government cards' ATRs. An ATR without compact-TLV historical bytes is
// returned as it is.
func bareATR(atr []byte) []byte {
	if len(atr) < 2 {
		return atr
	}
	y, i := atr[1]>>4, 2
	for {
		for bit := byte(1); bit <= 4; bit <<= 1 {
			if y&bit != 0 {
				i++
			}
		}
		if y&8 == 0 || i >= len(atr) {
			break
		}
		y = atr[i] >> 4
		i++
	}
	k := int(atr[1] & 0x0F)
	if i+k > len(atr) || k == 0 || atr[i] != 0x80 {
		return atr
	}
	hist := []byte{0x80}
	for objs := atr[i+1 : i+k]; len(objs) > 0; {
		n := 1 + int(objs[0]&0x0F)
		if n > len(objs) {
			return atr
		}
		if objs[0]>>4 != 0x7 {
			hist = append(hist, objs[:n]...)
		}
		objs = objs[n:]
	}
	out := append([]byte(nil), atr[:i]...)
	out[1] = out[1]&0xF0 | byte(len(hist))
	out = append(out, hist...)
	if i+k < len(atr) { // TCK, present with any protocol but T=0
		var tck byte
		for _, b := range out[1:] {
			tck ^= b
		}
		out = append(out, tck)
	}
	return out
}
