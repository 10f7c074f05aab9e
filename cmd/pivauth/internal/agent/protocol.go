package agent

import (
	"bufio"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/signer/purpose"
)

// protocolVersion is sent by both sides in the hello exchange. Bump it on any incompatible change
// of the messages below, so that a pivauth binary talking to an agent of another release gets a
// clear message instead of a misunderstanding.
const protocolVersion = 1

// maxMessage bounds one line of the protocol (a token the client stores is the largest thing sent).
const maxMessage = 256 << 10

// Operations a client asks for (request.Op). opPIN and opCancel only answer a PIN prompt.
const (
	opHello    = "hello"
	opStatus   = "status"
	opLock     = "lock"
	opKey      = "key"
	opSign     = "sign"
	opTokenGet = "token-get"
	opTokenPut = "token-put"
	opForget   = "forget"
	opPIN      = "pin"
	opCancel   = "cancel"
)

// Reply types (reply.Type): the final answer to a request (typeOK, typeError) or a message in the
// middle of one (typePINPrompt, which the client answers with opPIN or opCancel; typeTouch, which
// needs no answer).
const (
	typeOK        = "ok"
	typeError     = "error"
	typePINPrompt = "pin-prompt"
	typeTouch     = "touch"
)

// request is one line from the client. Only the fields of its Op are set.
type request struct {
	Op        string          `json:"op"`
	Version   int             `json:"version,omitempty"`    // hello
	CanPrompt bool            `json:"can_prompt,omitempty"` // hello: the client can ask its user for a PIN
	Key       *KeyRef         `json:"key,omitempty"`        // key, sign, forget (reader and slot)
	Card      string          `json:"card,omitempty"`       // forget: the card, as KeyInfo.Card names it
	Digest    []byte          `json:"digest,omitempty"`     // sign
	Hash      crypto.Hash     `json:"hash,omitempty"`       // sign: the digest's hash (0 for Ed25519)
	PSSSalt   *int            `json:"pss_salt,omitempty"`   // sign: set for RSA-PSS (rsa.PSSOptions.SaltLength)
	Purpose   purpose.Purpose `json:"purpose,omitzero"`     // sign
	Profile   string          `json:"profile,omitempty"`    // token-get, token-put
	Token     *Token          `json:"token,omitempty"`      // token-put
	PIN       []byte          `json:"pin,omitempty"`        // pin (the answer to a prompt); wiped after use
	// Typed qualifies a pin: a person typed it (a terminal, pinentry), and may be asked again when
	// the card refuses it; a PIN from a file or the environment is not.
	Typed bool `json:"typed,omitempty"`
	// Unavailable qualifies a cancel: the client has no way to ask for the PIN (no terminal, no
	// PIN file), as opposed to a person who dismissed the prompt.
	Unavailable bool `json:"unavailable,omitempty"`
}

// reply is one line from the agent.
type reply struct {
	Type    string       `json:"type"`
	Error   *RemoteError `json:"error,omitempty"`
	Version int          `json:"version,omitempty"`   // hello
	PID     int          `json:"pid,omitempty"`       // hello
	Prompt  *PINRequest  `json:"prompt,omitempty"`    // pin-prompt
	Status  *Status      `json:"status,omitempty"`    // status
	KeyInfo *KeyInfo     `json:"key_info,omitempty"`  // key
	Sig     []byte       `json:"signature,omitempty"` // sign
	Token   *Token       `json:"token,omitempty"`     // token-get (nil: no token cached)
	Dropped int          `json:"dropped,omitempty"`   // forget: the sessions closed
}

// KeyRef names a key the way the command line does: a card (reader, YubiKey serial or CHUID GUID;
// all empty for the only card present) and a slot ("9a").
type KeyRef struct {
	Reader string `json:"reader,omitempty"`
	Serial uint32 `json:"serial,omitempty"`
	GUID   string `json:"guid,omitempty"`
	Slot   string `json:"slot"`
}

func (r KeyRef) String() string {
	s := "slot " + r.Slot
	switch {
	case r.Serial != 0:
		s += fmt.Sprintf(" of YubiKey %d", r.Serial)
	case r.GUID != "":
		s += " of card " + r.GUID
	case r.Reader != "":
		s += " of the card in " + r.Reader
	}
	return s
}

// KeyInfo describes a key the agent has open.
type KeyInfo struct {
	Ref          KeyRef   `json:"ref"`
	Card         string   `json:"card"`         // "serial:<n>" or "guid:<hex>", as in the audit log
	CardName     string   `json:"card_name"`    // the card as people know it: "YubiKey 5.7.1 #96375739"
	Reader       string   `json:"reader"`       // where the card is now
	Certificates [][]byte `json:"certificates"` // DER, the key's certificate first, then its chain
	// PINHeld reports (in Status) that the key's session holds a PIN the card accepted: the
	// agent is unlocked for it. A key opened by a command that then had no PIN holds none.
	PINHeld bool `json:"pin_held"`
}

// PINRequest is what the agent tells a client when a card needs the PIN: which card (its name,
// signer.CardName, such as "YubiKey 5.7.1 #96375739"; may be empty) in which reader, which slot, and how
// many tries are left (-1: unknown). Retry is set when the card refused the previous PIN.
type PINRequest struct {
	Reader  string `json:"reader"`
	Card    string `json:"card,omitempty"`
	Slot    string `json:"slot"`
	Retries int    `json:"retries"`
	Retry   bool   `json:"retry,omitempty"`
}

// Token is a token a client stored in the agent: opaque bytes and the time it expires. The agent
// keeps tokens in memory only, drops them when they expire and whenever it locks.
type Token struct {
	Data    []byte    `json:"data"`
	Expires time.Time `json:"expires"`
}

// Status describes a running agent.
type Status struct {
	PID         int           `json:"pid"`
	Locked      bool          `json:"locked"` // no key holds a PIN (keys may be open, waiting for one)
	Keys        []KeyInfo     `json:"keys"`   // keys open (certificates left out), each saying whether it holds a PIN
	Tokens      int           `json:"tokens"` // tokens cached
	IdleTimeout time.Duration `json:"idle_timeout"`
	IdleLock    time.Time     `json:"idle_lock,omitzero"` // when the agent locks if left idle
}

// RemoteError is an error the agent answered a request with. Class is an audit result class
// (audit.ResultPINIncorrect, audit.ResultCardRemoved, …) so that the client can pick its exit code;
// Message is the agent-side error text, which names no secret.
type RemoteError struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	// Retries is the PIN tries left when Class is audit.ResultPINIncorrect (0: unknown).
	Retries int `json:"retries,omitempty"`
}

func (e *RemoteError) Error() string { return e.Message }

// ErrRefused is the class of the error the agent answers a connection from another user with.
var ErrRefused = errors.New("refused by the pivauth agent")

// Is lets errors.Is(err, ErrRefused) recognise a refusal.
func (e *RemoteError) Is(target error) bool {
	return target == ErrRefused && e.Class == audit.ResultRefused
}

// lineReader reads protocol lines without leaving copies of them behind: the caller clears the
// returned slice (which aliases the reader's buffer) once it has decoded it, so a PIN answer does
// not linger in the buffer.
type lineReader struct{ r *bufio.Reader }

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, maxMessage)}
}

// decode reads one line into v and wipes the line.
func (lr *lineReader) decode(v any) error {
	line, err := lr.r.ReadSlice('\n')
	defer pinbuf.Wipe(line)
	if errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("agent protocol: message longer than %d bytes", maxMessage)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("agent protocol: %w", err)
	}
	return nil
}

// encodeLine marshals v as one line.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// pinLine builds the answer to a PIN prompt by hand, so that the PIN's only copies are this line
// (wiped by the caller after writing) and the caller's own buffer: encoding/json would leave one in
// its pooled buffers.
func pinLine(pin []byte, typed bool) []byte {
	head, tail := `{"op":"pin","pin":"`, "\"}\n"
	if typed {
		tail = `","typed":true}` + "\n"
	}
	n := base64.StdEncoding.EncodedLen(len(pin))
	line := make([]byte, len(head)+n+len(tail))
	copy(line, head)
	base64.StdEncoding.Encode(line[len(head):], pin)
	copy(line[len(head)+n:], tail)
	return line
}
