package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/piv"
)

// managementKey returns the card's management key: from --management-key-file when given;
// else the factory default when the card says it still has it (YubiKey metadata), with a
// warning; else, when the card stores its key under the PIN (ykman's convention, which `pivauth
// setup management-key` follows), the key read from the card with pin; else asked on the
// terminal. It is never taken from the command line, where other users could read it in the
// process list.
func (a *app) managementKey(ctx context.Context, card *piv.Card, id piv.Identity, file string, pin *cardPIN) ([]byte, error) {
	if file != "" {
		return readManagementKeyFile(file)
	}
	if id.YubicoExtensions {
		m, err := card.Metadata(ctx, piv.KeyCardManagement)
		if err == nil && m.Default {
			fmt.Fprintf(a.stderr, "warning: %s still has the factory-default management key, which anyone can look up: "+
				"whoever holds the card can replace its keys. Run `pivauth setup management-key` to set a random one "+
				"kept on the card under the PIN.\n", id)
			return piv.DefaultManagementKey(), nil
		}
		protected, err := card.ManagementKeyProtected(ctx)
		if err != nil {
			return nil, err
		}
		if protected {
			p, err := pin.get(ctx)
			if err != nil {
				return nil, err
			}
			return card.ReadProtectedManagementKey(ctx, p, a.pinGuard)
		}
	}
	b, err := readSecret(ctx, fmt.Sprintf("Management key (hex) for %s", id))
	if errors.Is(err, errNoTerminal) {
		return nil, withCode(ExitPIN, fmt.Errorf("%s has its own management key and there is no terminal to ask for it: give it with --management-key-file", id))
	}
	if err != nil {
		return nil, err
	}
	defer pinbuf.Wipe(b)
	return decodeManagementKey(b, "the management key typed")
}

// pinGuard is the lockout guard on the PIN's tries left, as a piv callback that runs in the
// transaction that presents the PIN.
func (a *app) pinGuard(retries int) error {
	return piv.CheckTries(piv.KeyPIN, retries, a.opts.allowLastTry)
}

// cardPIN asks for the card's PIN (a.currentPIN) the first time a command needs it and keeps it
// for the rest of the command, so that a command needing it twice (the PIN-protected management
// key, then the PIN itself) asks once. wipe ends it.
type cardPIN struct {
	a    *app
	card *piv.Card
	id   piv.Identity
	pin  []byte
}

func (a *app) newCardPIN(card *piv.Card, id piv.Identity) *cardPIN {
	return &cardPIN{a: a, card: card, id: id}
}

func (p *cardPIN) get(ctx context.Context) ([]byte, error) {
	if p.pin == nil {
		b, err := p.a.currentPIN(ctx, p.card, p.id)
		if err != nil {
			return nil, err
		}
		p.pin = b
	}
	return p.pin, nil
}

func (p *cardPIN) wipe() {
	pinbuf.Wipe(p.pin)
	p.pin = nil
}

// readManagementKeyFile reads a hex management key from a regular file of the user's own that only
// they can read (privfs.OpenSecret).
func readManagementKeyFile(path string) ([]byte, error) {
	f, err := privfs.OpenSecret(path, "management key file")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, withCode(ExitUsage, err)
	}
	if err != nil {
		return nil, withCode(ExitPIN, err)
	}
	defer f.Close()
	b := make([]byte, 200) // a 32-byte key in hex with line ends fits many times over
	n, _ := f.Read(b)
	defer pinbuf.Wipe(b)
	return decodeManagementKey(b[:n], "management key file "+path)
}

// decodeManagementKey decodes hex (spaces and colons allowed) into a 16-, 24- or 32-byte key.
func decodeManagementKey(text []byte, what string) ([]byte, error) {
	s := strings.NewReplacer(" ", "", ":", "", "\n", "", "\r", "", "\t", "").Replace(string(text))
	key, err := hex.DecodeString(s)
	if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
		return nil, withCode(ExitUsage, fmt.Errorf("%s: want 32, 48 or 64 hex digits (a 16-, 24- or 32-byte key)", what))
	}
	return key, nil
}
