package agent

import "github.com/pivauth/pivauth/cmd/pivauth/internal/audit"

// auditedKey is a backend key whose signatures are recorded (see Audited).
type auditedKey struct {
	*audit.Signer
	key Key
}

// Audited wraps a backend's key so that every signature it makes is recorded with rec: the
// purpose and the requesting process arrive in the operation's context (the agent puts them
// there). Backends return their keys through it; classify names the card's error classes.
func Audited(key Key, slot string, rec audit.Recorder, classify audit.Classifier) Key {
	info := key.Info()
	var cert []byte
	if len(info.Certificates) > 0 {
		cert = info.Certificates[0]
	}
	return auditedKey{
		Signer: audit.Wrap(key, audit.Key{Card: info.Card, CardName: info.CardName, Reader: info.Reader, Slot: slot, Certificate: cert}, rec, classify),
		key:    key,
	}
}

func (k auditedKey) Info() KeyInfo { return k.key.Info() }
func (k auditedKey) Close() error  { return k.key.Close() }
