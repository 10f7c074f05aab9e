package vcard

// Status words the card answers with (ISO 7816-4, NIST SP 800-73-4 part 2).
const (
	swOK                  = 0x9000
	swMoreData            = 0x6100 // low byte: bytes still waiting for GET RESPONSE (00 = 256 or more)
	swVerifyFail          = 0x63C0 // low nibble: tries left
	swMemoryFailure       = 0x6581
	swWrongLength         = 0x6700
	swLogicalChannel      = 0x6881
	swSecureMessaging     = 0x6882
	swSecurityStatus      = 0x6982
	swAuthBlocked         = 0x6983
	swConditionsNotMet    = 0x6985
	swCommandNotAllowed   = 0x6986
	swIncorrectData       = 0x6A80
	swNotFound            = 0x6A82
	swNotEnoughMemory     = 0x6A84
	swIncorrectP1P2       = 0x6A86
	swReferenceNotFound   = 0x6A88
	swInsNotSupported     = 0x6D00
	swClassNotSupported   = 0x6E00
	swNoPreciseDiagnostic = 0x6F00
)

// command is one parsed command APDU.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	ne               int  // maximum response length the terminal accepts (Le; 0 = Le absent)
	extended         bool // the APDU used the extended length encoding
}

// maxShortResponse is what a short APDU without Le or with Le=00 accepts.
const maxShortResponse = 256

// parseAPDU decodes the four header bytes and the ISO 7816-3 body cases
// 1, 2S, 3S, 4S, 2E, 3E and 4E. ok is false when the lengths do not add up,
// which a card answers with 6700.
func parseAPDU(b []byte) (cmd command, ok bool) {
	if len(b) < 4 {
		return cmd, false
	}
	cmd = command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return cmd, true
	case len(body) == 1: // case 2S
		cmd.ne = int(body[0])
		if cmd.ne == 0 {
			cmd.ne = maxShortResponse
		}
		return cmd, true
	case body[0] != 0: // case 3S or 4S
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			cmd.ne = int(body[1+lc])
			if cmd.ne == 0 {
				cmd.ne = maxShortResponse
			}
		default:
			return cmd, false
		}
		cmd.data = body[1 : 1+lc]
		return cmd, true
	}
	// Extended length: a zero byte, then two-byte Lc and/or Le.
	cmd.extended = true
	if len(body) == 3 { // case 2E
		cmd.ne = int(body[1])<<8 | int(body[2])
		if cmd.ne == 0 {
			cmd.ne = 65536
		}
		return cmd, true
	}
	if len(body) < 3 {
		return cmd, false
	}
	lc := int(body[1])<<8 | int(body[2])
	if lc == 0 {
		return cmd, false
	}
	switch len(body) {
	case 3 + lc:
	case 5 + lc:
		cmd.ne = int(body[3+lc])<<8 | int(body[4+lc])
		if cmd.ne == 0 {
			cmd.ne = 65536
		}
	default:
		return cmd, false
	}
	cmd.data = body[3 : 3+lc]
	return cmd, true
}

// responseLimit is how many response bytes one answer to cmd may carry before
// the rest waits for GET RESPONSE. A card answers a command without Le as if
// Le were the maximum of its length form, which is what YubiKeys do and what
// piv-go and yubico-piv-tool (which never send Le) rely on.
func (cmd command) responseLimit() int {
	switch {
	case cmd.ne > 0:
		return cmd.ne
	case cmd.extended:
		return 65536
	default:
		return maxShortResponse
	}
}

// sw appends a status word to data.
func sw(data []byte, status int) []byte {
	return append(data, byte(status>>8), byte(status))
}
