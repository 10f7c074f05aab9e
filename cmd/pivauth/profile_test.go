package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const testConfig = `{
  "default_profile": "exo",
  "profiles": {
    "exo": {"tenant": "contoso.onmicrosoft.com", "client_id": "c1", "scopes": ["https://outlook.office365.com/.default"], "serial": 42, "slot": "9c"},
    "idp": {"issuer": "https://idp.example", "client_id": "bot", "scopes": ["a", "b"], "client_auth": "tls_client_auth", "reader": "R 00"}
  }
}`

func TestProfileCommands(t *testing.T) {
	c := newCLI(t)
	cfg := writeFile(t, c.dir, "config/pivauth/config.json", testConfig, 0o600)

	if r := c.ok("profile", "path"); strings.TrimSpace(r.stdout) != cfg {
		t.Errorf("profile path: %q, want %q", r.stdout, cfg)
	}
	if r := c.ok("__complete", "profile", "show", "--profile", ""); !strings.HasPrefix(r.stdout, "exo\nidp\n") {
		t.Errorf("profile completion:\n%s", r.stdout)
	}
	if r := c.ok("profile", "list"); !strings.Contains(r.stdout, "\n* exo ") || !strings.Contains(r.stdout, "\n  idp ") {
		t.Errorf("profile list:\n%s", r.stdout)
	}
	decode := func(r result) Profile {
		var p Profile
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
			t.Fatalf("profile show: %v\n%s", err, r.stdout)
		}
		return p
	}
	if p := decode(c.ok("profile", "show")); p.Tenant != "contoso.onmicrosoft.com" || p.Serial != 42 {
		t.Errorf("default profile: %+v", p)
	}
	if p := decode(c.ok("profile", "show", "--profile", "idp")); p.Issuer != "https://idp.example" || !reflect.DeepEqual(p.Scopes, []string{"a", "b"}) {
		t.Errorf("--profile idp: %+v", p)
	}
	if p := decode(c.with("PIVAUTH_PROFILE=idp").ok("profile", "show")); p.ClientAuth != "tls_client_auth" {
		t.Errorf("PIVAUTH_PROFILE=idp: %+v", p)
	}
	c.fails(ExitUsage, []string{`profile "nope" not found`, "[exo idp]"}, "profile", "show", "--profile", "nope")

	// A configuration file elsewhere, named by flag or environment, must exist.
	other := writeFile(t, c.dir, "elsewhere.json", `{"profiles": {"x": {"client_id": "cx"}}}`, 0o600)
	if p := decode(c.ok("profile", "show", "x", "--config", other)); p.ClientID != "cx" {
		t.Errorf("--config: %+v", p)
	}
	if r := c.with("PIVAUTH_CONFIG="+other).ok("profile", "list"); !strings.Contains(r.stdout, "\n  x ") {
		t.Errorf("PIVAUTH_CONFIG list:\n%s", r.stdout)
	}
	c.fails(ExitUsage, []string{"missing.json is missing"}, "profile", "list", "--config", filepath.Join(c.dir, "missing.json"))

	// A misspelt key is an error, not silently ignored.
	bad := writeFile(t, c.dir, "bad.json", `{"profiles": {"x": {"clientid": "cx"}}}`, 0o600)
	c.fails(ExitUsage, []string{`unknown field "clientid"`, "pivauth help config"}, "profile", "list", "--config", bad)
	dangling := writeFile(t, c.dir, "dangling.json", `{"default_profile": "gone", "profiles": {}}`, 0o600)
	c.fails(ExitUsage, []string{`default_profile "gone"`}, "certs", "--config", dangling)
	// version and the profile commands still work with a broken file, to help fix it.
	c.ok("version", "--config", bad)
	c.ok("completion", "bash", "--config", bad)
	if r := c.ok("profile", "path", "--config", bad); strings.TrimSpace(r.stdout) != bad {
		t.Errorf("profile path with a broken file: %q", r.stdout)
	}
}

// TestApplyProfile checks the rule "flags override the profile" on a real flag set, including the
// groups where one flag on the command line replaces the profile's whole group.
func TestApplyProfile(t *testing.T) {
	p := Profile{Name: "p", Tenant: "t", ClientID: "c", Scopes: []string{"s1", "s2"}, Serial: 7, Slot: "9c", ClientAuth: "tls_client_auth"}
	newSet := func() (*pflag.FlagSet, map[string]*string, *[]string, *uint32) {
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		s := map[string]*string{}
		for _, n := range []string{"tenant", "authority", "issuer", "client-id", "reader", "guid", "slot"} {
			s[n] = fs.String(n, "", "")
		}
		return fs, s, fs.StringSlice("scope", []string{"default"}, ""), fs.Uint32("serial", 0, "")
	}

	fs, s, scopes, serial := newSet()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := applyProfile(fs, p); err != nil {
		t.Fatal(err)
	}
	if *s["tenant"] != "t" || *s["client-id"] != "c" || *s["slot"] != "9c" || *serial != 7 || !reflect.DeepEqual(*scopes, []string{"s1", "s2"}) {
		t.Errorf("profile not applied: %v %v %d", *scopes, *s["tenant"], *serial)
	}

	fs, s, scopes, serial = newSet()
	if err := fs.Parse([]string{"--issuer", "https://i", "--reader", "R", "--scope", "x", "--slot", "9a"}); err != nil {
		t.Fatal(err)
	}
	if err := applyProfile(fs, p); err != nil {
		t.Fatal(err)
	}
	if *s["tenant"] != "" || *s["issuer"] != "https://i" || *serial != 0 || *s["reader"] != "R" || *s["slot"] != "9a" || !reflect.DeepEqual(*scopes, []string{"x"}) {
		t.Errorf("flags did not override: tenant=%q issuer=%q serial=%d reader=%q slot=%q scopes=%v",
			*s["tenant"], *s["issuer"], *serial, *s["reader"], *s["slot"], *scopes)
	}
	if *s["client-id"] != "c" {
		t.Errorf("client-id from profile lost: %q", *s["client-id"])
	}
}
