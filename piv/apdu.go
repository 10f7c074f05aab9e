package piv

import "fmt"

// Instruction bytes: SP 800-73-4 part 2 and ISO 7816-4, then the Yubico
// extensions.
const (
	insSelect              = 0xA4
	insGetData             = 0xCB
	insPutData             = 0xDB
	insVerify              = 0x20
	insChangeReference     = 0x24
	insResetRetry          = 0x2C
	insGeneralAuthenticate = 0x87
	insGenerateKeyPair     = 0x47
	insGetResponse         = 0xC0

	insYKGetVersion  = 0xFD
	insYKGetSerial   = 0xF8
	insYKGetMetadata = 0xF7
	insYKAttest      = 0xF9
	insYKImportKey   = 0xFE
	insYKSetMgmtKey  = 0xFF
)

// MaxNe asks for as many response bytes as the card will give: Le 00 in a
// short APDU (256 bytes, the rest through GET RESPONSE), 0000 in an extended
// one (65536).
const MaxNe = 65536

const (
	claChaining   = 0x10
	maxShortData  = 255
	maxExtData    = 65535
	maxShortNe    = 256
	maxGetResp    = 512 // GET RESPONSE rounds before we call the card broken
	maxRespLength = 1 << 20
)

// Command is one command as the application means it (case 1 to 4 of ISO
// 7816-3). The engine turns it into one extended APDU where the card allows
// it and the command needs it, or into short APDUs chained with CLA 0x10.
type Command struct {
	Cla, Ins, P1, P2 byte
	// Data is the command data field (Nc bytes), nil for none.
	Data []byte
	// Ne is the number of response bytes expected, 0 for none, MaxNe for "all".
	Ne int

	// secretResp marks a response that must not reach a trace (decrypted
	// data, a shared secret). Command data of VERIFY, CHANGE REFERENCE DATA,
	// RESET RETRY COUNTER and the Yubico key/management-key imports is
	// redacted by instruction, whoever builds the command.
	secretResp bool
}

// needsExtended reports whether c does not fit one short APDU.
func (c Command) needsExtended() bool {
	return len(c.Data) > maxShortData || c.Ne > maxShortNe
}

// lengthPlan is how one command travels: see planLength.
type lengthPlan uint8

const (
	// planShort: short APDUs, command chaining (CLA 0x10) for data over 255
	// bytes, 61xx and GET RESPONSE for answers over 256.
	planShort lengthPlan = iota
	// planExtended: one extended-length APDU.
	planExtended
	// planProbe: try one extended APDU; whatever the answer or failure,
	// the outcome decides the card's extSupport (Card.exchange).
	planProbe
)

// planLength decides the length encoding of cmd on a card of which we know
// ext, over T=1 (t1) or not. The rule, and why:
//
//   - SELECT is always short (Le 00). A Java Card runtime treats only a
//     short SELECT by AID as application selection: an extended one reaches
//     the current applet as an unknown command (6D00) or, with none selected,
//     is refused (6986). OpenSC's card-piv.c sends SELECT as
//     SC_APDU_CASE_4_SHORT with Le 256; piv-go and yubico-piv-tool send it
//     short without Le.
//   - A command whose data (≤ 255 bytes) and expected answer (≤ 256 bytes)
//     fit is short: every card takes it.
//   - A longer command goes extended only where the card is known to take
//     it: the ATR's card capabilities announce extended Lc/Le (ISO 7816-4
//     8.1.1.2.7; OpenSC reads the same bit, SC_CARD_CAP_APDU_EXT), or a
//     non-SELECT extended command succeeded on this connection. Otherwise it
//     is chained with short APDUs, the way piv-go and yubico-piv-tool send
//     every command and OpenSC's PIV driver sends long ones
//     (SC_APDU_FLAGS_CHAINING).
//   - When the ATR says nothing, the first long command on T=1 probes:
//     extended once, and on any failure resent short. Extended length is
//     never assumed over T=0, which carries it only in ENVELOPE commands.
func planLength(cmd Command, ext extSupport, t1 bool) lengthPlan {
	switch {
	case cmd.Ins == insSelect, !cmd.needsExtended(), !t1, ext == extNo:
		return planShort
	case ext == extYes:
		return planExtended
	}
	return planProbe
}

// encode returns the command APDUs that carry c, in order. With ext, a
// command that does not fit a short APDU goes as one extended APDU;
// otherwise it is chained (every part but the last has CLA bit 0x10 and no
// Le) and a long response comes back through GET RESPONSE.
func (c Command) encode(ext bool) [][]byte {
	if ext && c.needsExtended() && len(c.Data) <= maxExtData {
		return [][]byte{c.extended()}
	}
	var parts [][]byte
	data := c.Data
	for len(data) > maxShortData {
		p := make([]byte, 0, 5+maxShortData)
		p = append(p, c.Cla|claChaining, c.Ins, c.P1, c.P2, maxShortData)
		parts = append(parts, append(p, data[:maxShortData]...))
		data = data[maxShortData:]
	}
	last := make([]byte, 0, 6+len(data))
	last = append(last, c.Cla, c.Ins, c.P1, c.P2)
	if len(data) > 0 {
		last = append(last, byte(len(data)))
		last = append(last, data...)
	}
	if c.Ne > 0 {
		last = append(last, shortLe(c.Ne))
	}
	return append(parts, last)
}

func shortLe(ne int) byte {
	if ne >= maxShortNe {
		return 0x00
	}
	return byte(ne)
}

// extended encodes c as one extended-length APDU (ISO 7816-3 12.1.3).
func (c Command) extended() []byte {
	a := make([]byte, 0, 9+len(c.Data))
	a = append(a, c.Cla, c.Ins, c.P1, c.P2, 0x00)
	if len(c.Data) > 0 {
		a = append(a, byte(len(c.Data)>>8), byte(len(c.Data)))
		a = append(a, c.Data...)
	}
	if c.Ne > 0 {
		ne := c.Ne
		if ne >= MaxNe {
			ne = 0 // 0000 means 65536
		}
		a = append(a, byte(ne>>8), byte(ne))
	}
	return a
}

// exchange sends the APDUs that carry c through send and returns the whole
// response data and the final status word. It follows 61xx with GET
// RESPONSE and answers 6Cxx by resending with the Le the card asked for.
// err is a transport failure only; a status word other than 9000 is
// returned in sw with whatever data came before it.
func exchange(send func([]byte) ([]byte, error), c Command, ext bool) (data []byte, sw uint16, err error) {
	parts := c.encode(ext)
	if secretIns(c.Ins) {
		defer func() {
			for _, p := range parts {
				clear(p)
			}
		}()
	}
	for _, p := range parts[:len(parts)-1] {
		r, err := send(p)
		if err != nil {
			return nil, 0, err
		}
		if sw := statusWord(r); sw != 0x9000 {
			return nil, sw, nil
		}
	}
	apdu := parts[len(parts)-1]
	r, err := send(apdu)
	if err != nil {
		return nil, 0, err
	}
	if statusWord(r)&0xFF00 == 0x6C00 && c.Ne > 0 && !isExtended(apdu) {
		// Wrong Le: the card tells the right one; ask again once.
		again := append(append([]byte(nil), apdu[:len(apdu)-1]...), byte(statusWord(r)))
		if r, err = send(again); err != nil {
			return nil, 0, err
		}
	}
	for i := 0; ; i++ {
		sw = statusWord(r)
		data = append(data, r[:len(r)-2]...)
		if sw&0xFF00 != 0x6100 {
			return data, sw, nil
		}
		if i == maxGetResp || len(data) > maxRespLength {
			return nil, 0, fmt.Errorf("piv: %s: the card keeps answering 61xx after %d bytes", insName(c.Ins), len(data))
		}
		if r, err = send([]byte{c.Cla &^ claChaining, insGetResponse, 0x00, 0x00, byte(sw)}); err != nil {
			return nil, 0, err
		}
	}
}

// isExtended reports whether a command APDU uses extended length fields.
func isExtended(apdu []byte) bool { return len(apdu) >= 7 && apdu[4] == 0 }

// statusWord returns SW1SW2 of a response; send guarantees at least two bytes.
func statusWord(r []byte) uint16 {
	return uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
}

// secretIns reports the instructions whose command data is a PIN, PUK,
// private key or management key.
func secretIns(ins byte) bool {
	switch ins {
	case insVerify, insChangeReference, insResetRetry, insYKImportKey, insYKSetMgmtKey:
		return true
	}
	return false
}

// redactCommand returns the APDU as it may be logged: the data field of
// commands that carry a PIN, PUK, private key or management key is replaced
// by 0x2A ('*') bytes, so a trace shows the command's shape and never the
// secret. Chained parts and extended APDUs are handled alike.
func redactCommand(apdu []byte) []byte {
	out := append([]byte(nil), apdu...)
	if len(out) <= 5 {
		return out
	}
	if !secretIns(out[1]) && !putsPrinted(out) {
		return out
	}
	start, n := 5, int(out[4])
	if out[4] == 0 && len(out) >= 7 { // extended Lc
		start, n = 7, int(out[5])<<8|int(out[6])
	}
	for i := start; i < start+n && i < len(out); i++ {
		out[i] = '*'
	}
	return out
}

// putsPrinted reports a PUT DATA of the PRINTED object (5C 03 5F C1 09 in
// a short APDU), which holds a PIN-protected management key (pivman.go).
func putsPrinted(apdu []byte) bool {
	return len(apdu) >= 10 && apdu[1] == insPutData && string(apdu[5:10]) == "\x5C\x03\x5F\xC1\x09"
}

// redactResponse keeps only the status word of a secret response.
func redactResponse(resp []byte) []byte {
	if len(resp) < 2 {
		return append([]byte(nil), resp...)
	}
	return append([]byte("<redacted>"), resp[len(resp)-2:]...)
}
