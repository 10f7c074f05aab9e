package vcard

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Quirk names one way a real card departs from the model's default, which
// follows SP 800-73-4 and a YubiKey 5.7 to the letter. Each quirk is taken
// from the standards' latitude or from another implementation (Java Card
// PIV applets, government cards, OpenSC's and yubico-piv-tool's card
// workarounds), never from what pivauth happens to send: the bench exists
// to catch the engine assuming more than cards promise.
//
// Quirks are part of the card's state file, so a bench card process and a
// test's card keep them across restarts; they can be combined.
type Quirk string

// The quirks the model knows. The behaviour of each is documented at its
// name and implemented where the card handles what it changes.
const (
	// QuirkShortSelectOnly: like a Java Card runtime, only a short-length
	// SELECT by AID selects an applet. An extended-length SELECT reaches the
	// currently selected applet as an unknown command: 6D00 once PIV is
	// selected, 6986 while nothing is.
	QuirkShortSelectOnly Quirk = "short-select-only"
	// QuirkATRBare: the ATR's historical bytes carry no card capabilities
	// (nothing about chaining or extended length), as many Java Card and
	// government cards' ATRs.
	QuirkATRBare Quirk = "atr-bare"
	// QuirkNoExtended: the card takes no extended-length APDU (6700); long
	// commands come chained, long responses through 61xx and GET RESPONSE.
	QuirkNoExtended Quirk = "no-extended"
	// QuirkYubicoCompatible: a PIV applet that answers Yubico's GET VERSION,
	// serial, metadata and attestation instructions without being a YubiKey,
	// modelled on arekinath/PivApplet (yubikey profile only): a Java Card
	// ATR that names no YubiKey, GET VERSION 5.4.0, no Yubico management
	// application, attestation certificates that are not strict DER (a
	// negative RSA modulus, a non-minimal signature length), 6F00 to ATTEST
	// of a P-384 key, PivApplet's GET METADATA (no 6A88 for an empty slot,
	// origin 00/01) and no touch policies (6A81).
	QuirkYubicoCompatible Quirk = "yubico-compatible"
	// QuirkFewAlgorithms: GENERATE answers 6A80 for the algorithms a
	// typical Java Card applet lacks (RSA-3072, RSA-4096, Ed25519, X25519).
	QuirkFewAlgorithms Quirk = "few-algorithms"
	// QuirkFivePINTries: the PIN allows 5 tries, not 3; the PUK keeps 3.
	// That is arekinath/PivApplet's factory setting (OwnerPIN(5, 8) for the
	// PIN, OwnerPIN(3, 8) for the PUK), and within SP 800-73-4, which leaves
	// the retry counters to the issuer.
	QuirkFivePINTries Quirk = "five-pin-tries"
	// QuirkNoPINReset: VERIFY with P1=FF (SP 800-73-4's "reset the PIN's
	// security status") is not implemented: 6A86, and the PIN stays verified.
	QuirkNoPINReset Quirk = "no-pin-reset"
	// QuirkStatusAcrossSelect: SELECT of the PIV application, while it is
	// already selected, keeps the security status (PIN verified, management
	// key authenticated) instead of resetting it. The piv profile does so
	// anyway (SP 800-73-4); the quirk gives it to the yubikey profile, as a
	// Yubico-compatible Java Card applet (PivApplet) behaves.
	QuirkStatusAcrossSelect Quirk = "status-across-select"
	// QuirkChangeRefVerifies: a successful CHANGE REFERENCE DATA or RESET
	// RETRY COUNTER leaves the PIN verified.
	QuirkChangeRefVerifies Quirk = "change-reference-verifies"
)

// quirkDocs is every known quirk with a line for usage texts.
var quirkDocs = map[Quirk]string{
	QuirkShortSelectOnly:    "only a short SELECT selects (Java Card runtime)",
	QuirkATRBare:            "ATR announces no card capabilities",
	QuirkNoExtended:         "no extended-length APDUs: chaining and GET RESPONSE only",
	QuirkYubicoCompatible:   "answers Yubico's instructions without being a YubiKey; lax-DER attestation",
	QuirkFewAlgorithms:      "6A80 for RSA-3072/4096, Ed25519, X25519",
	QuirkFivePINTries:       "5 PIN tries (PUK 3), as PivApplet",
	QuirkNoPINReset:         "VERIFY P1=FF unsupported (6A86)",
	QuirkStatusAcrossSelect: "SELECT keeps the security status",
	QuirkChangeRefVerifies:  "CHANGE REFERENCE / RESET RETRY leave the PIN verified",
}

// Quirks lists the known quirks, sorted, with their one-line descriptions.
func Quirks() map[Quirk]string {
	m := make(map[Quirk]string, len(quirkDocs))
	for q, d := range quirkDocs {
		m[q] = d
	}
	return m
}

// ParseQuirks parses a comma-separated list of quirk names ("" is none).
func ParseQuirks(s string) ([]Quirk, error) {
	var qs []Quirk
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		q := Quirk(name)
		if _, ok := quirkDocs[q]; !ok {
			known := make([]string, 0, len(quirkDocs))
			for k := range quirkDocs {
				known = append(known, string(k))
			}
			sort.Strings(known)
			return nil, fmt.Errorf("vcard: unknown quirk %q (known: %s)", name, strings.Join(known, ", "))
		}
		if !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	return qs, nil
}

// SetQuirks makes the card behave with exactly the given quirks from the
// next command on, and records them in its state file. Quirks that shape
// the answer to reset (the ATR) show from the next power-up.
func (c *Card) SetQuirks(qs ...Quirk) error {
	for _, q := range qs {
		if _, ok := quirkDocs[q]; !ok {
			return fmt.Errorf("vcard: unknown quirk %q", q)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Quirks = slices.Clone(qs)
	slices.Sort(c.st.Quirks)
	c.applyQuirksToState()
	return c.save()
}

// HasQuirk reports whether the card has quirk q.
func (c *Card) HasQuirk(q Quirk) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.has(q)
}

// has is HasQuirk for callers that hold c.mu.
func (c *Card) has(q Quirk) bool { return slices.Contains(c.st.Quirks, q) }

// applyQuirksToState adjusts persistent state that a quirk decides (tries
// counters): called with c.mu held whenever the quirks change and after a
// reset to factory credentials.
func (c *Card) applyQuirksToState() {
	maxPIN := defaultTries
	if c.has(QuirkFivePINTries) {
		maxPIN = fivePINTries
	}
	if c.st.PINMaxTries == maxPIN {
		return
	}
	// An unused counter follows the new maximum; a counter already spent
	// down keeps what is left, never more than the new maximum.
	if c.st.PINTries == c.st.PINMaxTries || c.st.PINTries > maxPIN {
		c.st.PINTries = maxPIN
	}
	c.st.PINMaxTries = maxPIN
}

// fivePINTries is the PIN's retry counter with QuirkFivePINTries.
const fivePINTries = 5
