package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pivauth/pivauth/internal/privfs"
)

// Config is the configuration file: named profiles and the one used when none is named.
//
//	{
//	  "default_profile": "exo",
//	  "profiles": {
//	    "exo": {"tenant": "contoso.onmicrosoft.com", "client_id": "…", "scopes": ["https://outlook.office365.com/.default"]}
//	  }
//	}
type Config struct {
	DefaultProfile string             `json:"default_profile,omitempty"`
	Profiles       map[string]Profile `json:"profiles"`
}

// Profile is one named set of defaults. Every field fills in the flag of the same name (the JSON
// key with "_" for "-") when that flag was not given on the command line.
type Profile struct {
	Name       string   `json:"-"`
	Tenant     string   `json:"tenant,omitempty"`
	Authority  string   `json:"authority,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
	ClientAuth string   `json:"client_auth,omitempty"`
	Reader     string   `json:"reader,omitempty"`
	Serial     uint32   `json:"serial,omitempty"`
	GUID       string   `json:"guid,omitempty"`
	Slot       string   `json:"slot,omitempty"`
	PINFile    string   `json:"pin_file,omitempty"`
	Pinentry   string   `json:"pinentry,omitempty"`
	CAFile     string   `json:"ca_file,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Bound      bool     `json:"bound,omitempty"`
	X5C        bool     `json:"x5c,omitempty"`
	NoCache    bool     `json:"no_cache,omitempty"`
	// HTTPTimeout is a duration, e.g. "45s".
	HTTPTimeout string `json:"http_timeout,omitempty"`
}

// profileFlag pairs a flag name with the profile's value for it.
type profileFlag struct {
	name   string
	value  string   // for scalar flags
	values []string // for list flags (scopes)
}

// flags lists the profile's non-empty values by flag name.
func (p Profile) flags() []profileFlag {
	var out []profileFlag
	add := func(name, v string) {
		if v != "" {
			out = append(out, profileFlag{name: name, value: v})
		}
	}
	add("tenant", p.Tenant)
	add("authority", p.Authority)
	add("issuer", p.Issuer)
	add("client-id", p.ClientID)
	if len(p.Scopes) > 0 {
		out = append(out, profileFlag{name: "scope", values: p.Scopes})
	}
	add("client-auth", p.ClientAuth)
	add("reader", p.Reader)
	if p.Serial != 0 {
		add("serial", strconv.FormatUint(uint64(p.Serial), 10))
	}
	add("guid", p.GUID)
	add("slot", p.Slot)
	add("pin-file", p.PINFile)
	add("pinentry", p.Pinentry)
	add("ca-file", p.CAFile)
	if len(p.Resources) > 0 {
		out = append(out, profileFlag{name: "resource", values: p.Resources})
	}
	for _, b := range []struct {
		name string
		set  bool
	}{{"bound", p.Bound}, {"x5c", p.X5C}, {"no-cache", p.NoCache}} {
		if b.set {
			add(b.name, "true")
		}
	}
	add("http-timeout", p.HTTPTimeout)
	return out
}

// profileKey is the configuration file's key for a flag: "_" for "-", and the list flags by their
// plural (scope: scopes).
func profileKey(flag string) string {
	switch flag {
	case "scope":
		return "scopes"
	case "resource":
		return "resources"
	}
	return strings.ReplaceAll(flag, "-", "_")
}

// exclusiveGroups are flags that name the same thing in different ways. When the command line
// gives one member of a group, the profile fills in none of them: --issuer on the command line
// replaces a profile's tenant, --serial replaces its reader.
var exclusiveGroups = [][]string{
	{"tenant", "authority", "issuer"},
	{"reader", "serial", "guid"},
}

// configPath returns the configuration file to read: --config, $PIVAUTH_CONFIG, or
// pivauth/config.json under the user configuration directory ($XDG_CONFIG_HOME or ~/.config on
// Linux, ~/Library/Application Support on macOS, %AppData% on Windows). explicit reports whether
// the user named it (then it must exist).
func (a *app) configPath() (path string, explicit bool, err error) {
	if a.opts.config != "" {
		return a.opts.config, true, nil
	}
	if p := os.Getenv("PIVAUTH_CONFIG"); p != "" {
		return p, true, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", false, err
	}
	return filepath.Join(dir, "pivauth", "config.json"), false, nil
}

// readConfig loads the configuration file. A missing default file is an empty configuration. A
// file that others could change (privfs.CheckSteering) is refused: it names the pinentry program
// that gets the PIN, the CAs trusted and the identity providers tokens come from.
func (a *app) readConfig() (Config, string, error) {
	path, explicit, err := a.configPath()
	if err != nil {
		// No home directory (a service account, say): behave as without a configuration file.
		return Config{}, "", nil
	}
	err = privfs.CheckSteering(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !explicit {
			return Config{}, path, nil
		}
		return Config{}, path, usageErrorf("configuration file %s is missing: create it with pivauth profile set NAME --config %s …, or name another", path, path)
	}
	if errors.Is(err, privfs.ErrNotPrivate) {
		return Config{}, path, withCode(ExitUsage, fmt.Errorf("configuration file refused: %w", err))
	}
	var data []byte
	if err == nil {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return Config{}, path, withCode(ExitUsage, fmt.Errorf("read configuration: %w", err))
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key would otherwise be ignored without a word
	if err := dec.Decode(&cfg); err != nil {
		offset := dec.InputOffset()
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syntax) {
			offset = syntax.Offset
		} else if errors.As(err, &typ) {
			offset = typ.Offset
		}
		line, col := lineColumn(data, offset)
		return Config{}, path, withCode(ExitUsage, fmt.Errorf("configuration file %s, line %d, column %d: %w (see 'pivauth help config')", path, line, col, err))
	}
	return cfg, path, nil
}

// lineColumn turns a byte offset of data into a 1-based line and column.
func lineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// loadProfile resolves the profile (--profile, $PIVAUTH_PROFILE, the file's default_profile) and
// fills in every flag of cmd that the command line did not set.
func (a *app) loadProfile(cmd *cobra.Command) error {
	cfg, path, err := a.readConfig()
	if err != nil {
		return err
	}
	name, named := a.opts.profile, a.opts.profile != ""
	if !named {
		name, named = os.Getenv("PIVAUTH_PROFILE"), os.Getenv("PIVAUTH_PROFILE") != ""
	}
	if name == "" {
		name = cfg.DefaultProfile
	}
	if name == "" {
		return nil
	}
	p, ok := cfg.Profiles[name]
	if !ok {
		if !named {
			return usageErrorf("configuration file %s: default_profile %q is not among its profiles", path, name)
		}
		return profileNotFound(cfg, path, name)
	}
	p.Name = name
	a.profile = p
	a.log.Debug("profile", "name", name, "file", path)
	return applyProfile(cmd.Flags(), p)
}

// applyProfile sets each flag in fs that the profile has a value for and the command line left
// alone. Flags the command does not have are skipped: a profile serves every command.
func applyProfile(fs *pflag.FlagSet, p Profile) error {
	given := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { given[f.Name] = true })
	for _, g := range exclusiveGroups {
		for _, n := range g {
			if given[n] {
				for _, m := range g {
					given[m] = true
				}
				break
			}
		}
	}
	for _, pf := range p.flags() {
		f := fs.Lookup(pf.name)
		if f == nil || given[pf.name] {
			continue
		}
		var err error
		if sv, ok := f.Value.(pflag.SliceValue); ok && pf.values != nil {
			err = sv.Replace(pf.values)
		} else {
			err = f.Value.Set(pf.value)
		}
		if err != nil {
			return usageErrorf("profile %q: %s: %w", p.Name, pf.name, err)
		}
	}
	return nil
}

// profileNotFound is the usage error for a profile the file does not have, or for a file that
// is not there.
func profileNotFound(cfg Config, path, name string) error {
	if cfg.Profiles == nil {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return usageErrorf("profile %q: the configuration file %s is missing: create the profile with pivauth profile set %s --tenant … --client-id …", name, path, name)
		}
	}
	return usageErrorf("profile %q not found in %s (profiles: %v)", name, path, profileNames(cfg))
}

func profileNames(cfg Config) []string {
	names := make([]string, 0, len(cfg.Profiles))
	for n := range cfg.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// profileCommand is `pivauth profile list|show|path`.
func (a *app) profileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Show and set the profiles of the configuration file",
		Long:  "Show the configuration file's location and its profiles, and set a profile's values ('pivauth help config').",
		Example: `  pivauth profile path
  pivauth profile list
  pivauth profile show exo
  pivauth profile set exo --tenant contoso.onmicrosoft.com --client-id 1111… --scope https://outlook.office365.com/.default`,
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the profiles: name (the default marked with *), identity provider, client, card and slot",
		Example: "  pivauth profile list",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, path, err := a.readConfig()
			if err != nil {
				return err
			}
			if len(cfg.Profiles) == 0 {
				fmt.Fprintf(a.stdout, "no profiles in %s\n", path)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tPROVIDER\tCLIENT ID\tCARD\tSLOT")
			for _, n := range profileNames(cfg) {
				p := cfg.Profiles[n]
				mark := " "
				if n == cfg.DefaultProfile {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\n", mark, n, dash(p.provider()), dash(p.ClientID), dash(p.card()), dash(p.Slot))
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show [NAME]",
		Short: "Print a profile as JSON (default: the one in effect)",
		Example: `  pivauth profile show
  pivauth profile show exo`,
		Args: positional(0, 1, "one profile name", "pivauth profile show exo"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				if err := a.loadProfile(cmd); err != nil {
					return err
				}
				return writeJSON(a.stdout, a.profile)
			}
			cfg, path, err := a.readConfig()
			if err != nil {
				return err
			}
			p, ok := cfg.Profiles[args[0]]
			if !ok {
				return profileNotFound(cfg, path, args[0])
			}
			return writeJSON(a.stdout, p)
		},
	}
	path := &cobra.Command{
		Use:     "path",
		Short:   "Print the configuration file path",
		Example: "  pivauth profile path",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, _, err := a.configPath()
			if err != nil {
				return fmt.Errorf("no configuration directory: %w; use --config or PIVAUTH_CONFIG", err)
			}
			_, err = fmt.Fprintln(a.stdout, p)
			return err
		},
	}
	// They read the file themselves, so that a broken one can be located and shown.
	cmd.AddCommand(noProfile(list), noProfile(show), noProfile(path), noProfile(a.profileSetCommand()))
	return cmd
}
