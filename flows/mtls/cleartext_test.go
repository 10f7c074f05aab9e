package mtls_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// TestCleartextRefused: whatever URL reaches a Transport (a discovered endpoint, a redirect), plain
// http to a host that is not a loopback address is refused before any connection; loopback http
// (a local test server) is served.
func TestCleartextRefused(t *testing.T) {
	var served atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Add(1) }))
	defer local.Close()
	c, err := mtls.NewClient(mtls.Identity{}, mtls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get("http://idp.example.com/token")
	var insecure *netsafe.InsecureURLError
	if !errors.As(err, &insecure) {
		t.Errorf("http to a remote host: %v, want *netsafe.InsecureURLError", err)
	}
	resp, err := c.Get(local.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if served.Load() != 1 {
		t.Errorf("loopback http served %d requests, want 1", served.Load())
	}
}
