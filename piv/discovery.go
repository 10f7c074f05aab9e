package piv

import (
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags of the Discovery Object (SP 800-73-4 part 1, 3.3.2).
const (
	tagDiscoveryAID       = 0x4F
	tagDiscoveryPINPolicy = 0x5F2F
)

// Discovery is the Discovery Object (tag 7E): the PIV AID and the PIN usage
// policy, which tells whether the card also has a global PIN and which PIN
// a client should prefer.
type Discovery struct {
	// AID is the PIV application identifier the card reports.
	AID []byte
	// PIVPIN: the PIV application PIN satisfies the PIV access conditions.
	PIVPIN bool
	// GlobalPIN: the global (card) PIN satisfies them too.
	GlobalPIN bool
	// OCC: on-card biometric comparison satisfies them.
	OCC bool
	// VCI: the virtual contact interface is implemented.
	VCI bool
	// PairingCode: a pairing code is needed to establish the VCI.
	PairingCode bool
	// PreferGlobal: the global PIN is the primary PIN (second byte 0x20).
	PreferGlobal bool
}

// ParseDiscovery parses the value of the Discovery Object (inside tag 7E).
func ParseDiscovery(b []byte) (*Discovery, error) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("piv: discovery object: %w", err)
	}
	d := new(Discovery)
	var policy []byte
	for _, e := range elems {
		switch e.Tag {
		case tagDiscoveryAID:
			d.AID = e.Value
		case tagDiscoveryPINPolicy:
			policy = e.Value
		}
	}
	if len(policy) != 2 {
		return nil, fmt.Errorf("piv: discovery object: PIN usage policy of %d bytes, want 2", len(policy))
	}
	d.PIVPIN = policy[0]&0x40 != 0
	d.GlobalPIN = policy[0]&0x20 != 0
	d.OCC = policy[0]&0x10 != 0
	d.VCI = policy[0]&0x08 != 0
	d.PairingCode = policy[0]&0x08 != 0 && policy[0]&0x04 == 0
	d.PreferGlobal = d.GlobalPIN && policy[1] == 0x20
	return d, nil
}
