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
// warning; else asked on the terminal. It is never taken from the command line, where other
// users could read it in the process list.
func (a *app) managementKey(ctx context.Context, card *piv.Card, id piv.Identity, file string) ([]byte, error) {
	if file != "" {
		return readManagementKeyFile(file)
	}
	if id.YubicoExtensions {
		m, err := card.Metadata(ctx, piv.KeyCardManagement)
		if err == nil && m.Default {
			// ykman talks to YubiKeys only; yubico-piv-tool to any card with Yubico's extensions.
			tool := "ykman piv access change-management-key"
			if !id.YubiKey {
				tool = "yubico-piv-tool -a set-mgm-key"
			}
			fmt.Fprintf(a.stderr, "warning: %s still has the factory-default management key, which anyone can look up: "+
				"whoever holds the card can replace its keys. Set your own (e.g. %s).\n", id, tool)
			return piv.DefaultManagementKey(), nil
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
