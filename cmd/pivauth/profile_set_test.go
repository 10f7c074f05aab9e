package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileSetListShow: profile set creates the file (0600 in a 0700 directory) and the
// profile, a second set keeps what the first wrote, list prints a table (or "no profiles in
// FILE"), show prints the profile, and a token command reads it (the trust checks pass).
func TestProfileSetListShow(t *testing.T) {
	c := newCLI(t)
	path := filepath.Join(c.dir, "config", "pivauth", "config.json")
	if r := c.ok("profile", "list"); strings.TrimSpace(r.stdout) != "no profiles in "+path {
		t.Errorf("profile list without a file: %q", r.stdout)
	}
	c.ok("profile", "set", "exo", "--tenant", "contoso.onmicrosoft.com", "--client-id", "app-1", "--scope", "https://outlook.office365.com/.default",
		"--x5c", "--serial", "12345678", "--slot", "9c", "--ca-file", "/etc/ca.pem", "--http-timeout", "45s", "--default")
	c.ok("profile", "set", "idp", "--issuer", "https://idp.example.com", "--client-id", "bot", "--scope", "api:read", "--bound", "--resource", "https://api.example.com",
		"--client-auth", "tls_client_auth", "--no-cache")
	c.ok("profile", "set", "exo", "--pin-file", "/run/secrets/pin") // adds, keeps the rest
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file %v, %v; want mode 0600", fi, err)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("config dir %v, %v; want mode 0700", di, err)
	}
	var p Profile
	if err := json.Unmarshal([]byte(c.ok("profile", "show", "exo").stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "contoso.onmicrosoft.com" || p.ClientID != "app-1" || len(p.Scopes) != 1 || !p.X5C || p.Serial != 12345678 || p.Slot != "9c" ||
		p.CAFile != "/etc/ca.pem" || p.HTTPTimeout != "45s" || p.PINFile != "/run/secrets/pin" {
		t.Errorf("profile exo: %+v", p)
	}
	if err := json.Unmarshal([]byte(c.ok("profile", "show", "idp").stdout), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Bound || !p.NoCache || len(p.Resources) != 1 || p.ClientAuth != "tls_client_auth" {
		t.Errorf("profile idp: %+v", p)
	}
	list := c.ok("profile", "list").stdout
	for _, want := range []string{"NAME", "PROVIDER", "* exo", "entra:contoso.onmicrosoft.com", "#12345678", "  idp", "https://idp.example.com"} {
		if !strings.Contains(list, want) {
			t.Errorf("profile list lacks %q:\n%s", want, list)
		}
	}
	// The written file passes the trust checks: a command reads it (and here fails on the PIN
	// file it names, before any card).
	c.fails(ExitUsage, []string{"--pin-file", "/run/secrets/pin"}, "token")
	c.fails(ExitUsage, []string{"give the values to set"}, "profile", "set", "exo")
}

// TestConfigErrors: a named configuration file that is missing is named as missing, a profile
// asked for without a file says the file is missing, and JSON errors give line and column.
func TestConfigErrors(t *testing.T) {
	c := newCLI(t)
	missing := filepath.Join(c.dir, "nowhere.json")
	c.fails(ExitUsage, []string{"configuration file " + missing + " is missing"}, "token", "--config", missing)
	c.fails(ExitUsage, []string{`profile "exo"`, "is missing", "pivauth profile set exo"}, "token", "--profile", "exo")
	bad := writeFile(t, c.dir, "cfg/bad.json", "{\n  \"profiles\": {\n    \"a\": {\"tenant\": 5}\n  }\n}\n", 0o600)
	c.fails(ExitUsage, []string{"line 3, column"}, "token", "--config", bad)
	broken := writeFile(t, c.dir, "cfg/broken.json", "{\n  \"profiles\": {,\n}\n", 0o600)
	c.fails(ExitUsage, []string{"line 2, column 16"}, "token", "--config", broken)
}
