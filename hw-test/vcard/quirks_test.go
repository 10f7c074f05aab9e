package vcard

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestQuirksPersistAndParse(t *testing.T) {
	if _, err := ParseQuirks("short-select-only,nosuch"); err == nil {
		t.Fatal("ParseQuirks accepted an unknown quirk")
	}
	qs, err := ParseQuirks(" no-extended, atr-bare,no-extended,")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(qs, []Quirk{QuirkNoExtended, QuirkATRBare}) {
		t.Fatalf("ParseQuirks = %v", qs)
	}
	ca, _ := benchCA(t)
	path := filepath.Join(t.TempDir(), "card.json")
	c, err := OpenWithCA(path, ProfilePIV, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetQuirks(qs...); err != nil {
		t.Fatal(err)
	}
	again, err := OpenWithCA(path, ProfilePIV, ca)
	if err != nil {
		t.Fatal(err)
	}
	if !again.HasQuirk(QuirkATRBare) || !again.HasQuirk(QuirkNoExtended) || again.HasQuirk(QuirkShortSelectOnly) {
		t.Fatalf("reopened card has quirks %v", again.st.Quirks)
	}
}
