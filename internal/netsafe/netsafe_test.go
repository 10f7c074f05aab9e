package netsafe

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://idp.example.com":      true,
		"HTTPS://idp.example.com/x":    true,
		"http://127.0.0.1:8080/":       true,
		"http://127.3.2.1/":            true,
		"http://[::1]:9/":              true,
		"http://localhost/":            true,
		"http://LOCALHOST:1/":          true,
		"http://idp.example.com":       false,
		"http://127.0.0.1.example.com": false,
		"http://[::ffff:10.0.0.1]/":    false,
		"ftp://idp.example.com":        false,
		"idp.example.com/path":         false,
	} {
		err := CheckURL("issuer", raw)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	var insecure *InsecureURLError
	if err := CheckURL("issuer", "http://idp.example.com"); !errors.As(err, &insecure) || insecure.What != "issuer" {
		t.Errorf("http issuer: %v, want *InsecureURLError", err)
	}
}

func TestNoDowngrade(t *testing.T) {
	req := func(raw string) *http.Request {
		u, _ := url.Parse(raw)
		return &http.Request{URL: u}
	}
	if err := NoDowngrade(req("http://127.0.0.1/"), []*http.Request{req("https://127.0.0.1/")}); !errors.Is(err, ErrDowngrade) {
		t.Errorf("https to loopback http: %v, want ErrDowngrade", err)
	}
	if err := NoDowngrade(req("https://other.example/"), []*http.Request{req("https://idp.example/")}); err != nil {
		t.Errorf("https to https: %v", err)
	}
	if err := NoDowngrade(req("http://other.example/"), []*http.Request{req("http://localhost/")}); err == nil {
		t.Error("loopback http to remote http followed")
	}
}

func TestOrigin(t *testing.T) {
	same := []string{"https://Idp.Example:443/a", "https://idp.example/b", "HTTPS://IDP.EXAMPLE"}
	for _, raw := range same {
		u, _ := url.Parse(raw)
		if got := Origin(u); got != "https://idp.example:443" {
			t.Errorf("Origin(%s) = %s", raw, got)
		}
	}
	u, _ := url.Parse("https://idp.example:8443/")
	if Origin(u) == "https://idp.example:443" {
		t.Error("another port is the same origin")
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":           "plain text",
		"a\x1b[2Jb":            "a [2Jb",
		"line\r\nforged":       "line forged",
		"title\x1b]0;x\x07end": "title ]0;x end",
		"bidi\u202eevil":       "bidi evil",
		"c1\u009bcontrol":      "c1 control",
		"bad utf-8 \xff":       "bad utf-8 \uFFFD",
		"tab\tand del\x7f":     "tab and del ",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintableError(t *testing.T) {
	base := errors.New("body:\n\x1b[2Jforged")
	err := PrintableError(base)
	if err.Error() != "body: [2Jforged" || !errors.Is(err, base) {
		t.Errorf("PrintableError = %q (Is base: %v)", err, errors.Is(err, base))
	}
	if PrintableError(nil) != nil {
		t.Error("PrintableError(nil) is not nil")
	}
}
