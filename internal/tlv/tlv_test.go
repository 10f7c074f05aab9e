package tlv

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		tag uint32
		n   int
	}{{0x53, 0}, {0x53, 0x7F}, {0x70, 0x80}, {0x7F49, 0xFF}, {0x5FC105, 0x100}, {0x53, 0xFFFF}, {0x53, 0x10000}} {
		v := bytes.Repeat([]byte{0xA5}, tc.n)
		enc := Encode(tc.tag, v)
		got, rest, err := Next(enc)
		if err != nil || got.Tag != tc.tag || !bytes.Equal(got.Value, v) || len(rest) != 0 {
			t.Fatalf("tag %X len %d: got tag %X len %d rest %d err %v", tc.tag, tc.n, got.Tag, len(got.Value), len(rest), err)
		}
	}
}

func TestKnownEncodings(t *testing.T) {
	// GET DATA for the PIV authentication certificate: 5C 03 5F C1 05.
	if got := Encode(0x5C, []byte{0x5F, 0xC1, 0x05}); !bytes.Equal(got, []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}) {
		t.Fatalf("got % X", got)
	}
	// 7F49 public key template with a 0x82 length.
	b := append([]byte{0x7F, 0x49, 0x82, 0x01, 0x00}, make([]byte, 256)...)
	v, err := Unwrap(b, 0x7F49)
	if err != nil || len(v) != 256 {
		t.Fatalf("Unwrap: len %d err %v", len(v), err)
	}
}

func TestFind(t *testing.T) {
	b := Append(Append(nil, 0x70, []byte("cert")), 0x71, []byte{0x01})
	v, ok, err := Find(b, 0x71)
	if err != nil || !ok || !bytes.Equal(v, []byte{1}) {
		t.Fatalf("Find 71: %x %v %v", v, ok, err)
	}
	if _, ok, err := Find(b, 0xFE); ok || err != nil {
		t.Fatalf("Find FE: %v %v", ok, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, b := range [][]byte{
		{}, {0x53}, {0x53, 0x05, 1, 2}, {0x5F}, {0x5F, 0xC1}, {0x53, 0x84, 0, 0, 0, 1},
		{0x53, 0x82, 0x01}, {0x5F, 0xC1, 0x85, 0x01, 0x00},
	} {
		if _, _, err := Next(b); err == nil {
			t.Errorf("% X: no error", b)
		}
	}
	if _, _, err := Next([]byte{0x53, 0x02, 1}); !errors.Is(err, ErrTruncated) {
		t.Errorf("want ErrTruncated, got %v", err)
	}
	if _, err := Unwrap([]byte{0x53, 0x00, 0x00}, 0x53); err == nil {
		t.Error("Unwrap accepted trailing bytes")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0x53, 0x03, 0x70, 0x01, 0x00})
	f.Add([]byte{0x7F, 0x49, 0x81, 0x02, 0x86, 0x00})
	f.Add([]byte{0x5F, 0xC1, 0x05, 0x82, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		elems, err := Parse(b)
		if err != nil {
			return
		}
		var re []byte
		for _, e := range elems {
			re = Append(re, e.Tag, e.Value)
		}
		again, err := Parse(re)
		if err != nil || len(again) != len(elems) {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		for i := range again {
			if again[i].Tag != elems[i].Tag || !bytes.Equal(again[i].Value, elems[i].Value) {
				t.Fatalf("element %d changed", i)
			}
		}
	})
}
