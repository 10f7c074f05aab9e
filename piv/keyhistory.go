package piv

import (
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags of the Key History Object (SP 800-73-4 part 1, 3.3.3).
const (
	tagKeysWithOnCardCerts  = 0xC1
	tagKeysWithOffCardCerts = 0xC2
	tagOffCardCertURL       = 0xF3
)

// KeyHistory is the Key History Object (5FC10C): how many retired key
// management keys the card holds, and where the certificates of those whose
// certificates are not on the card can be found.
type KeyHistory struct {
	// OnCardCerts is the number of retired keys with certificates on the card
	// (they are in slots 82, 83, ... in order).
	OnCardCerts int
	// OffCardCerts is the number of retired keys whose certificates are elsewhere.
	OffCardCerts int
	// OffCardURL is where those certificates are published; empty if none.
	OffCardURL string
}

// ParseKeyHistory parses the value of the Key History Object (inside tag 53).
func ParseKeyHistory(b []byte) (*KeyHistory, error) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("piv: key history object: %w", err)
	}
	h := new(KeyHistory)
	var seenOn, seenOff bool
	for _, e := range elems {
		switch e.Tag {
		case tagKeysWithOnCardCerts, tagKeysWithOffCardCerts:
			if len(e.Value) != 1 {
				return nil, fmt.Errorf("piv: key history object: count of %d bytes, want 1", len(e.Value))
			}
			if e.Tag == tagKeysWithOnCardCerts {
				h.OnCardCerts, seenOn = int(e.Value[0]), true
			} else {
				h.OffCardCerts, seenOff = int(e.Value[0]), true
			}
		case tagOffCardCertURL:
			h.OffCardURL = string(e.Value)
		}
	}
	if !seenOn || !seenOff {
		return nil, fmt.Errorf("piv: key history object lacks its key counts (C1, C2)")
	}
	if h.OnCardCerts+h.OffCardCerts > 20 {
		return nil, fmt.Errorf("piv: key history object counts %d retired keys; PIV has 20 retired slots", h.OnCardCerts+h.OffCardCerts)
	}
	if h.OffCardCerts > 0 && h.OffCardURL == "" {
		return nil, fmt.Errorf("piv: key history object has off-card certificates but no URL (F3)")
	}
	return h, nil
}
