package audit

import (
	"net/url"
	"time"

	"github.com/pivauth/pivauth/signer/purpose"
)

// Operation names what was done with a private key, or (OpAgentConnect) an access decision of the
// agent.
type Operation string

// Operations recorded in the log.
const (
	OpSign         Operation = "sign"          // a signature for an assertion or any other caller
	OpTLSHandshake Operation = "tls-handshake" // a signature inside a TLS handshake (Purpose.ServerName set)
	OpDecrypt      Operation = "decrypt"       // RSA decryption (key management slot)
	OpECDH         Operation = "ecdh"          // EC key agreement
	OpAgentConnect Operation = "agent-connect" // a connection to the agent (recorded when refused)
	OpTokenGet     Operation = "token-get"     // a client read a token cached in the agent (Purpose.Profile)
	OpTokenPut     Operation = "token-put"     // a client stored a token in the agent (Purpose.Profile)
)

// Result classes. Any other error is recorded as ResultError; a Classifier may name more classes.
const (
	ResultOK           = "ok"
	ResultError        = "error"
	ResultCanceled     = "canceled"        // the caller gave up (context canceled, PIN prompt dismissed)
	ResultTimeout      = "timeout"         // a deadline passed
	ResultPINIncorrect = "pin-incorrect"   // the card rejected the PIN
	ResultPINBlocked   = "pin-blocked"     // the PIN is blocked
	ResultPINLastTry   = "pin-last-try"    // the lockout guard refused to risk the last PIN try; no PIN was sent
	ResultNoPIN        = "pin-unavailable" // the PIN was needed and there was no one or nothing to ask
	ResultCardRemoved  = "card-removed"    // the card left the reader during the operation
	ResultNoCard       = "no-card"         // no card (or not the selected one) was present
	ResultAmbiguous    = "card-ambiguous"  // several cards match the selection: name one
	ResultRefused      = "refused"         // the agent refused the requester (another user)
	ResultKeyChanged   = "key-changed"     // the card's key is not the one the session was opened on (re-keyed, or another card)
	ResultNotCached    = "not-cached"      // OpTokenGet: the agent held no token for the profile
)

// Event is one line of the audit log. It deliberately has no field for a PIN, a token, an assertion
// or a signature: the log must be safe to show and to ship to a log collector.
type Event struct {
	Time     time.Time `json:"time"`
	PID      int       `json:"pid"`                 // the process that performed the operation
	Card     string    `json:"card,omitempty"`      // "serial:<n>" for a YubiKey, "guid:<hex>" for other PIV cards
	CardName string    `json:"card_name,omitempty"` // the card as people know it (signer.CardName), for display
	// CardCached: Card was not read from the card but from pivauth's card metadata cache, by the
	// certificate (signer.CardCache): a card holding a copy of that certificate is named the same.
	CardCached bool            `json:"card_cached,omitempty"`
	Reader     string          `json:"reader,omitempty"`      // PC/SC reader name at the time
	Slot       string          `json:"slot,omitempty"`        // PIV slot, lower-case hex: "9a"
	CertSHA256 string          `json:"cert_sha256,omitempty"` // upper-case hex SHA-256 of the certificate (as Entra and Windows show it)
	Operation  Operation       `json:"operation"`             //
	Purpose    purpose.Purpose `json:"purpose,omitzero"`      // why the operation was asked for
	Requester  *Requester      `json:"requester,omitempty"`   // who asked, when the agent served the operation
	Result     string          `json:"result"`                // ResultOK or an error class
}

// maxField bounds every free-text purpose field: a purpose names things, it never carries payloads.
const maxField = 256

// sanitized returns p ready for the log: endpoints lose anything that could carry a credential
// (user info, query, fragment) and every field is cut to maxField bytes.
func sanitized(p purpose.Purpose) purpose.Purpose {
	if u, err := url.Parse(p.TokenEndpoint); err == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		p.TokenEndpoint = u.String()
	} else {
		p.TokenEndpoint = "(unparsable URL)"
	}
	for _, f := range []*string{&p.TokenEndpoint, &p.ClientID, &p.JTI, &p.ServerName, &p.Command, &p.Process, &p.Profile} {
		if len(*f) > maxField {
			*f = (*f)[:maxField]
		}
	}
	return p
}

// Requester identifies the process that asked the agent for an operation, from the socket's peer
// credentials.
type Requester struct {
	PID     int    `json:"pid"`
	UID     int    `json:"uid"`
	Command string `json:"command,omitempty"` // the executable name (/proc/PID/comm), never its arguments
	// Executable is the path of the requester's executable (/proc/PID/exe, as the kernel has it).
	Executable string `json:"executable,omitempty"`
}
