package vcard

import "bytes"

// Factory PIN and PUK, as VERIFY carries them (padded to 8 bytes with FF).
var (
	defaultPIN = padPIN("123456")
	defaultPUK = padPIN("12345678")
)

const defaultTries = 3

func padPIN(s string) []byte {
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, s)
	return b
}

// validReference reports whether b is a well-formed new PIN or PUK: 6 to 8
// characters padded with FF to 8 bytes. A government card takes digits only
// (SP 800-73-4 2.4.3); a YubiKey takes any byte but FF.
func (c *Card) validReference(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	n := bytes.IndexByte(b, 0xFF)
	if n < 0 {
		n = 8
	}
	if n < 6 {
		return false
	}
	for i, ch := range b {
		if i >= n && ch != 0xFF {
			return false
		}
		if i < n && c.st.Profile == ProfilePIV && (ch < '0' || ch > '9') {
			return false
		}
	}
	return true
}

// triesStatus is 63Cx with x the tries left (at most 15 fit).
func triesStatus(tries int) int {
	if tries > 15 {
		tries = 15
	}
	return swVerifyFail | tries
}

// cmdVerify is VERIFY (00 20 P1 80): P1=00 with the PIN verifies it, P1=00
// without data asks for the status (9000 verified, 63Cx tries left, 6983
// blocked), P1=FF without data clears the PIN's security status.
func (c *Card) cmdVerify(cmd command) ([]byte, int) {
	if cmd.p1 != 0x00 && cmd.p1 != 0xFF {
		return nil, swIncorrectP1P2
	}
	if cmd.p2 != refPIN {
		return nil, swReferenceNotFound
	}
	if cmd.p1 == 0xFF {
		if c.has(QuirkNoPINReset) {
			// A card that implements only P1=00, as ISO 7816-4 allows (the
			// reset form is SP 800-73-4's): wrong parameters, and the
			// security status stays as it is.
			return nil, swIncorrectP1P2
		}
		if len(cmd.data) != 0 {
			return nil, swWrongLength
		}
		c.vol.pinVerified = false
		return nil, swOK
	}
	if len(cmd.data) == 0 {
		// The status query is not a use of the PIN, so a PIN-always key
		// verified just before stays usable.
		c.vol.pinAlways = c.vol.cur.always
		switch {
		case c.vol.pinVerified:
			return nil, swOK
		case c.st.PINTries == 0:
			return nil, swAuthBlocked
		}
		return nil, triesStatus(c.st.PINTries)
	}
	c.countPINVerify()
	if len(cmd.data) != 8 {
		return nil, swIncorrectData
	}
	if c.st.PINTries == 0 {
		return nil, swAuthBlocked
	}
	if !equalSecret(cmd.data, c.st.PIN) {
		c.vol.pinVerified = false
		c.st.PINTries--
		if status := c.commit(); status != swOK {
			return nil, status
		}
		return nil, triesStatus(c.st.PINTries)
	}
	if c.st.PINTries != c.st.PINMaxTries {
		c.st.PINTries = c.st.PINMaxTries
		if status := c.commit(); status != swOK {
			return nil, status
		}
	}
	c.vol.pinVerified = true
	c.vol.pinAlways = true
	return nil, swOK
}

// reference returns the stored value and tries counter of the PIN (80) or
// PUK (81).
func (c *Card) reference(ref byte) (value *[]byte, tries *int, max int) {
	if ref == refPUK {
		return &c.st.PUK, &c.st.PUKTries, c.st.PUKMaxTries
	}
	return &c.st.PIN, &c.st.PINTries, c.st.PINMaxTries
}

// checkOld compares a presented PIN or PUK, counting a wrong one down. It
// returns swOK when it matched.
func (c *Card) checkOld(ref byte, presented []byte) int {
	value, tries, max := c.reference(ref)
	if *tries == 0 {
		return swAuthBlocked
	}
	if !equalSecret(presented, *value) {
		if ref == refPIN {
			c.vol.pinVerified = false
		}
		*tries--
		if status := c.commit(); status != swOK {
			return status
		}
		return triesStatus(*tries)
	}
	*tries = max
	return swOK
}

// cmdChangeReference is CHANGE REFERENCE DATA (00 24 00 80|81, old || new).
func (c *Card) cmdChangeReference(cmd command) ([]byte, int) {
	if cmd.p1 != 0 {
		return nil, swIncorrectP1P2
	}
	if cmd.p2 != refPIN && cmd.p2 != refPUK {
		return nil, swReferenceNotFound
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	if _, tries, _ := c.reference(cmd.p2); *tries == 0 {
		return nil, swAuthBlocked
	}
	if !c.validReference(cmd.data[8:]) {
		return nil, swIncorrectData
	}
	if status := c.checkOld(cmd.p2, cmd.data[:8]); status != swOK {
		return nil, status
	}
	value, _, _ := c.reference(cmd.p2)
	*value = append([]byte(nil), cmd.data[8:]...)
	if cmd.p2 == refPIN {
		c.referenceVerifies()
	}
	return nil, c.commit()
}

// referenceVerifies is what a successful CHANGE REFERENCE DATA of the PIN or
// RESET RETRY COUNTER does to the PIN's security status with
// QuirkChangeRefVerifies: an applet that checks the old value with the same
// routine as VERIFY (Java Card's OwnerPIN.check sets the validated flag) and
// never clears it leaves the PIN verified. Without the quirk the status is
// left as it was, as SP 800-73-4 specifies nothing else.
func (c *Card) referenceVerifies() {
	if c.has(QuirkChangeRefVerifies) {
		c.vol.pinVerified = true
	}
}

// cmdResetRetry is RESET RETRY COUNTER (00 2C 00 80, PUK || new PIN):
// unblocks the PIN with the PUK.
func (c *Card) cmdResetRetry(cmd command) ([]byte, int) {
	if cmd.p1 != 0 {
		return nil, swIncorrectP1P2
	}
	if cmd.p2 != refPIN {
		return nil, swReferenceNotFound
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	if c.st.PUKTries == 0 {
		return nil, swAuthBlocked
	}
	if !c.validReference(cmd.data[8:]) {
		return nil, swIncorrectData
	}
	if status := c.checkOld(refPUK, cmd.data[:8]); status != swOK {
		return nil, status
	}
	c.st.PIN = append([]byte(nil), cmd.data[8:]...)
	c.st.PINTries = c.st.PINMaxTries
	c.referenceVerifies()
	return nil, c.commit()
}
