package entra

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLoginIgnoresForgedRedirects: redirects to the loopback listener that are not this sign-in's
// (another state; an error without state) are answered 400 and do not end it: the person's
// sign-in still completes.
func TestLoginIgnoresForgedRedirects(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	follow := browserUser(f.srv)
	browser := func(ctx context.Context, authURL string) error {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		for _, forged := range []url.Values{
			{"code": {"stolen"}, "state": {"guessed"}},
			{"error": {"access_denied"}, "error_description": {"forged\x1b[2J"}},
		} {
			resp, err := http.Get(redirect + "?" + forged.Encode())
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("forged redirect %v answered %d, want 400", forged, resp.StatusCode)
			}
		}
		return follow(ctx, authURL)
	}
	tok, err := f.client.Login(ctx, LoginOptions{Scopes: []string{"https://graph.microsoft.com/User.Read"}, OpenBrowser: browser, Output: &strings.Builder{}})
	if err != nil {
		t.Fatalf("sign-in after forged redirects: %v", err)
	}
	if tok.Account != f.srv.User().UPN {
		t.Errorf("account %q", tok.Account)
	}
}

// TestLoginChecksNonce: a code obtained for another authorization request (its nonce differs, as
// a code injected from another sign-in would) is redeemed by Entra but its ID token is refused.
func TestLoginChecksNonce(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	follow := browserUser(f.srv)
	browser := func(ctx context.Context, authURL string) error {
		u, _ := url.Parse(authURL)
		q := u.Query()
		q.Set("nonce", "another sign-in's nonce")
		u.RawQuery = q.Encode()
		return follow(ctx, u.String())
	}
	_, err := f.client.Login(ctx, LoginOptions{Scopes: []string{"https://graph.microsoft.com/User.Read"}, OpenBrowser: browser, Output: &strings.Builder{}})
	if err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("got %v, want a nonce error", err)
	}
}

// TestErrorTextPrintable: an error the browser brings back (with the sign-in's state) ends the
// sign-in and reaches the message without control characters.
func TestErrorTextPrintable(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser := func(_ context.Context, authURL string) error {
		u, _ := url.Parse(authURL)
		q := u.Query()
		back := url.Values{"state": {q.Get("state")}, "error": {"access_denied\x1b]0;title\x07"}, "error_description": {"no\x1b[2J"}}
		go func() {
			resp, err := http.Get(q.Get("redirect_uri") + "?" + back.Encode())
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
		return nil
	}
	_, err := f.client.Login(ctx, LoginOptions{Scopes: []string{"https://graph.microsoft.com/User.Read"}, OpenBrowser: browser, Output: &strings.Builder{}})
	if err == nil || !strings.Contains(err.Error(), "access_denied") || strings.ContainsAny(err.Error(), "\x1b\x07\r\n") {
		t.Errorf("sign-in error %q: want access_denied without control characters", err)
	}
}
