package vcard

import "time"

// OperationTimes are how long the card's processor takes for one private-key
// operation (GENERAL AUTHENTICATE: a signature, a decryption, a key
// agreement), by PIV algorithm identifier. The model computes as fast as this
// machine does; a real card is far slower, and a wall-time comparison of
// tools that make the same signature means something only with the card's
// own time in it. nil: no added time.
type OperationTimes map[byte]time.Duration

// YubiKey5Times are private-key operation times sized like a YubiKey 5's
// (issue 13: RSA-2048 about 150 ms, P-256 about 50 ms; the other sizes are
// estimates scaled from those, not measurements): the timing `hw-test/bench
// up --timing yubikey5` and benchtest.WithYubiKey5Timing give the card, with
// YubiKey5APDUTime per APDU on the transport.
var YubiKey5Times = OperationTimes{
	0x06: 40 * time.Millisecond,   // RSA-1024
	0x07: 150 * time.Millisecond,  // RSA-2048
	0x05: 600 * time.Millisecond,  // RSA-3072
	0x16: 1300 * time.Millisecond, // RSA-4096
	0x11: 50 * time.Millisecond,   // ECC P-256
	0x14: 90 * time.Millisecond,   // ECC P-384
	0xE0: 30 * time.Millisecond,   // Ed25519
	0xE1: 30 * time.Millisecond,   // X25519
}

// YubiKey5APDUTime is what one APDU costs a YubiKey 5 over USB CCID (the
// USB transfers and the card's own command handling), about 4 ms.
const YubiKey5APDUTime = 4 * time.Millisecond

// SetOperationTimes sets how long private-key operations take (nil: no
// added time).
func (c *Card) SetOperationTimes(t OperationTimes) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opTimes = t
}

// operate spends the card's time on a private-key operation with a key of
// algorithm alg.
func (c *Card) operate(alg byte) {
	if d := c.opTimes[alg]; d > 0 {
		time.Sleep(d)
	}
}
