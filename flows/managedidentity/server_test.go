package managedidentity

import (
	"strings"
	"testing"
)

func TestResourceScope(t *testing.T) {
	for _, c := range []struct{ in, resource, scope string }{
		{"https://graph.microsoft.com", "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"https://graph.microsoft.com/.default", "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
		// ARM's v1 resource keeps its slash: MSAL's scope for it has two.
		{"https://management.core.windows.net/", "https://management.core.windows.net/", "https://management.core.windows.net//.default"},
		{"https://management.core.windows.net//.default", "https://management.core.windows.net/", "https://management.core.windows.net//.default"},
		{" api://app ", "api://app", "api://app/.default"},
		{"", "", ""},
		{"/.default", "", ""},
	} {
		if r, s := resourceScope(c.in); r != c.resource || s != c.scope {
			t.Errorf("resourceScope(%q) = %q, %q; want %q, %q", c.in, r, s, c.resource, c.scope)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:1": true, "LOCALHOST": true, "[::1]:80": true, "127.1.2.3:9": true,
		"attacker.example:8080": false, "10.0.0.1:80": false, "localhost.attacker.example:80": false, "": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v", host, got)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) != 64 || a == b || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("secrets %q, %q: want 32 random bytes in hex, different each time", a, b)
	}
	if _, err := New(Options{Secret: "short", Token: nil}); err == nil {
		t.Error("New accepted a short secret")
	}
}
