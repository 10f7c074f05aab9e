package loopback

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func get(t *testing.T, u string, q url.Values) int {
	t.Helper()
	resp, err := http.Get(u + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Only an http loopback redirect URI is listened on.
func TestStartRefusesOtherRedirects(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1/cb", "http://example.com/cb", "http://10.0.0.1/cb"} {
		if s, err := Start(u, func(url.Values) error { return nil }); err == nil {
			s.Close()
			t.Errorf("Start(%s) listened", u)
		}
	}
}

// "localhost" is served on 127.0.0.1 under the URI as given (no path added); requests that are
// not the sign-in's redirect are answered 400 and ignored; the sign-in's own redirect ends it
// with its code, or with check's error.
func TestSignInTakesOnlyItsRedirect(t *testing.T) {
	refused := errors.New("refused by check")
	for _, tc := range []struct {
		back    url.Values
		want    string
		wantErr error
	}{
		{url.Values{"code": {"the-code"}}, "the-code", nil},
		{url.Values{"error": {"access_denied"}}, "", refused},
	} {
		s, err := Start("http://localhost:0", func(q url.Values) error {
			if q.Get("error") != "" {
				return refused
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		u, _ := url.Parse(s.RedirectURI)
		if u.Hostname() != "localhost" || u.Port() == "0" || u.Path != "" {
			t.Fatalf("RedirectURI %s: want http://localhost:PORT", s.RedirectURI)
		}
		direct := "http://127.0.0.1:" + u.Port() + "/"
		for _, q := range []url.Values{{"code": {"stolen"}, "state": {"guessed"}}, {"state": {s.State}}} {
			if status := get(t, direct, q); status != http.StatusBadRequest {
				t.Errorf("redirect %v answered %d, want 400", q, status)
			}
		}
		tc.back.Set("state", s.State)
		wantStatus := http.StatusOK
		if tc.wantErr != nil {
			wantStatus = http.StatusBadRequest
		}
		if status := get(t, direct, tc.back); status != wantStatus {
			t.Errorf("the sign-in's redirect %v answered %d, want %d", tc.back, status, wantStatus)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code, err := s.Wait(ctx)
		cancel()
		if code != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("Wait after %v = %q, %v; want %q, %v", tc.back, code, err, tc.want, tc.wantErr)
		}
	}
}
