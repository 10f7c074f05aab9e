package card

import (
	"testing"

	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// TestPINRequestRoundTrip: a PIN request crosses the agent's protocol and comes back as it was,
// every field; a slot the agent names wrongly is refused.
func TestPINRequestRoundTrip(t *testing.T) {
	retired, _ := piv.RetiredSlot(0x85)
	for _, req := range []signer.PINRequest{
		{Reader: "Yubico YubiKey OTP+FIDO+CCID 00 00", Card: "YubiKey 5.7.1 #96375739", Slot: piv.SlotAuthentication, Retries: 3},
		{Reader: "r", Card: "", Slot: retired, Retries: -1, Retry: true},
	} {
		back, err := SignerPINRequest(AgentPINRequest(req))
		if err != nil || back != req {
			t.Errorf("%+v came back as %+v, %v", req, back, err)
		}
	}
	bad := AgentPINRequest(signer.PINRequest{Slot: piv.SlotAuthentication})
	bad.Slot = "zz"
	if _, err := SignerPINRequest(bad); err == nil {
		t.Error("slot zz accepted")
	}
}
