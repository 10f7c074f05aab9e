package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pivauth/pivauth/internal/privfs"
)

// provider names the profile's identity provider for profile list.
func (p Profile) provider() string {
	switch {
	case p.Issuer != "":
		return p.Issuer
	case p.Authority != "":
		return p.Authority
	case p.Tenant != "":
		return "entra:" + p.Tenant
	}
	return ""
}

// card names the profile's card selector for profile list.
func (p Profile) card() string {
	switch {
	case p.Serial != 0:
		return "#" + strconv.FormatUint(uint64(p.Serial), 10)
	case p.GUID != "":
		return "guid " + p.GUID
	}
	return p.Reader
}

// profileSetFlags are the flags of profile set that the root does not already have (--reader,
// --serial, --guid, --slot, --pin-file, --pinentry and --http-timeout are global).
var profileSetFlags = []string{"tenant", "authority", "issuer", "client-id", "scope", "client-auth", "ca-file", "resource", "bound", "x5c", "no-cache"}

// profileSetCommand is `pivauth profile set NAME --flag …`.
func (a *app) profileSetCommand() *cobra.Command {
	var f idpFlags
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Set values of a profile (creating it, and the file) from the flags given",
		Long: `Set values of the profile NAME from the flags given, creating the profile and the configuration
file if need be; values not given stay as they were. The file is written mode 0600 in a directory
of mode 0700. --default makes NAME the default profile.`,
		Example: `  pivauth profile set exo --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 \
      --scope https://outlook.office365.com/.default --serial 12345678 --default
  pivauth profile set idp --issuer https://idp.example.com --client-id build-bot --scope api:read --bound --ca-file ca.pem`,
		Args: positional(1, 1, "the profile's name", "pivauth profile set exo --tenant contoso.onmicrosoft.com"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runProfileSet(cmd.Flags(), args[0], makeDefault)
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make this the default profile")
	return cmd
}

// runProfileSet writes the flags the command line gave into profile name.
func (a *app) runProfileSet(flags *pflag.FlagSet, name string, makeDefault bool) error {
	cfg, path, err := a.readConfig()
	if err != nil && !isMissing(path) {
		return err // unreadable, not valid JSON, or open to others: not to be overwritten
	}
	if path == "" {
		return usageErrorf("no configuration directory: give --config FILE")
	}
	// The profile as a JSON object, so that each flag sets the key of its name.
	var values map[string]any
	raw, _ := json.Marshal(cfg.Profiles[name])
	_ = json.Unmarshal(raw, &values)
	set := 0
	var bad error
	flags.Visit(func(fl *pflag.Flag) {
		if !profileSettable(fl.Name) {
			return
		}
		set++
		switch v := fl.Value.(type) {
		case pflag.SliceValue:
			values[profileKey(fl.Name)] = v.GetSlice()
		default:
			if fl.Value.Type() == "bool" || fl.Name == "serial" {
				var n any
				if err := json.Unmarshal([]byte(fl.Value.String()), &n); err != nil {
					bad = err
				}
				values[profileKey(fl.Name)] = n
				return
			}
			values[profileKey(fl.Name)] = fl.Value.String()
		}
	})
	if bad != nil {
		return withCode(ExitUsage, bad)
	}
	if set == 0 && !makeDefault {
		return usageErrorf("profile set %s: give the values to set, e.g. --tenant T --client-id C --scope S", name)
	}
	raw, _ = json.Marshal(values)
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return withCode(ExitUsage, fmt.Errorf("profile %s: %w", name, err))
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]Profile{}
	}
	cfg.Profiles[name] = p
	if makeDefault {
		cfg.DefaultProfile = name
	}
	if err := writeConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "profile %s written to %s\n", name, path)
	return nil
}

// profileSettable reports the flags profile set writes: its own and the global ones a profile holds.
func profileSettable(name string) bool {
	for _, n := range append(profileSetFlags, "reader", "serial", "guid", "slot", "pin-file", "pinentry", "http-timeout") {
		if n == name {
			return true
		}
	}
	return false
}

// isMissing reports a path that does not exist.
func isMissing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// writeConfig writes cfg to path, mode 0600, in a directory of mode 0700 (created if missing), by
// renaming a complete file over the old one.
func writeConfig(path string, cfg Config) error {
	dir := filepath.Dir(path)
	if err := privfs.EnsureDir(dir); err != nil {
		return withCode(ExitUsage, fmt.Errorf("configuration directory: %w", err))
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
