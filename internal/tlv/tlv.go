// Package tlv encodes and decodes the BER-TLV subset that ISO 7816-4 and
// NIST SP 800-73-4 use: tags of one to three bytes, definite lengths of up
// to three length bytes (0x82 form covers every PIV object).
//
// A tag is held as the big-endian value of its bytes: 0x53, 0x7F49, 0x5FC105.
package tlv

import (
	"errors"
	"fmt"
)

// ErrTruncated reports input that ends inside a tag, a length or a value.
var ErrTruncated = errors.New("tlv: truncated")

// TLV is one decoded element. Value aliases the input slice.
type TLV struct {
	Tag   uint32
	Value []byte
}

// Next decodes the first element of b and returns it with the rest of b.
func Next(b []byte) (t TLV, rest []byte, err error) {
	if len(b) == 0 {
		return t, nil, ErrTruncated
	}
	i := 0
	tag := uint32(b[i])
	i++
	if tag&0x1F == 0x1F { // multi-byte tag: continue while bit 8 is set
		for {
			if i >= len(b) {
				return t, nil, ErrTruncated
			}
			if i == 3 {
				return t, nil, fmt.Errorf("tlv: tag longer than 3 bytes")
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return t, nil, ErrTruncated
	}
	n := int(b[i])
	i++
	if n&0x80 != 0 {
		k := n & 0x7F
		if k == 0 || k > 3 {
			return t, nil, fmt.Errorf("tlv: unsupported length form 0x%02X", n)
		}
		if i+k > len(b) {
			return t, nil, ErrTruncated
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return t, nil, ErrTruncated
	}
	return TLV{Tag: tag, Value: b[i : i+n : i+n]}, b[i+n:], nil
}

// Parse decodes a whole sequence of elements; trailing garbage is an error.
func Parse(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		t, rest, err := Next(b)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		b = rest
	}
	return out, nil
}

// Find returns the value of the first element with the given tag at the top
// level of b. found is false when no element has that tag.
func Find(b []byte, tag uint32) (value []byte, found bool, err error) {
	for len(b) > 0 {
		t, rest, err := Next(b)
		if err != nil {
			return nil, false, err
		}
		if t.Tag == tag {
			return t.Value, true, nil
		}
		b = rest
	}
	return nil, false, nil
}

// Unwrap returns the value of b, which must be exactly one element with the
// given tag.
func Unwrap(b []byte, tag uint32) ([]byte, error) {
	t, rest, err := Next(b)
	if err != nil {
		return nil, err
	}
	if t.Tag != tag {
		return nil, fmt.Errorf("tlv: tag 0x%X where 0x%X was expected", t.Tag, tag)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("tlv: %d bytes after tag 0x%X", len(rest), tag)
	}
	return t.Value, nil
}

// Append appends the encoding of one element to dst.
func Append(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// Encode returns the encoding of one element.
func Encode(tag uint32, value []byte) []byte {
	return Append(make([]byte, 0, len(value)+8), tag, value)
}
