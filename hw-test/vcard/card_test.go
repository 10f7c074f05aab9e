package vcard

import (
	"bytes"
	"testing"
)

func TestSelectAndATR(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	if got := c.ATR(); !bytes.Equal(got, unhex(t, "3BFD1300008131FE158073C021C057597562694B657940")) {
		t.Errorf("ATR %X", got)
	}
	// Nothing is selected after power-on.
	expect(t, c, apdu(0, insGetVersion, 0, 0, nil), 0x6D00)
	apt := must(t, c, selectPIV)
	if want := unhex(t, "6111 4F06000010000100 7907 4F05A000000308"); !bytes.Equal(apt, want) {
		t.Errorf("APT %X, want %X", apt, want)
	}
	must(t, c, apdu(0, insSelect, 4, 0, pivAID))
	must(t, c, apdu(0, insGetVersion, 0, 0, nil))
	// Another application: 6A82 and the PIV application is gone.
	expect(t, c, apdu(0, insSelect, 4, 0, unhex(t, "A000000527471117")), 0x6A82)
	expect(t, c, apdu(0, insGetVersion, 0, 0, nil), 0x6D00)
}
