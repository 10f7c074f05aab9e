package oidctest

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// User is the test user's browser: it follows redirects with cookies through the provider's
// automatic interactions and submits the forms the provider shows, as a person would click
// through them.
type User struct {
	client *http.Client
}

// User returns a fresh browser (no session) for the provider.
func (p *Provider) User() *User {
	jar, _ := cookiejar.New(nil)
	return &User{client: &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots()}},
	}}
}

var (
	postForm    = regexp.MustCompile(`(?is)<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenInput = regexp.MustCompile(`(?is)<input type="hidden" name="([^"]+)" value="([^"]*)"\s*/?>`)
	anyInput    = regexp.MustCompile(`(?is)<input\b`)
)

// Authorize opens an authorization URL and follows it to its end: the automatic sign-in and
// consent, then the redirect to the client's loopback redirect URI. It returns the last page.
func (u *User) Authorize(ctx context.Context, authURL string) (string, error) {
	return u.browse(ctx, http.MethodGet, authURL, nil, nil)
}

// ApproveDevice enters userCode at the device verification URI and confirms (approve) or aborts
// the request, then follows the sign-in to the provider's success page.
func (u *User) ApproveDevice(ctx context.Context, verificationURI, userCode string, approve bool) error {
	target, err := url.Parse(verificationURI)
	if err != nil {
		return err
	}
	q := target.Query()
	q.Set("user_code", userCode)
	target.RawQuery = q.Encode()
	page, err := u.browse(ctx, http.MethodGet, target.String(), nil, func(form url.Values) {
		if form.Get("confirm") != "" && !approve {
			form.Del("confirm")
			form.Set("abort", "yes")
		}
	})
	if err != nil {
		return err
	}
	want := "Sign-in Success"
	if !approve {
		want = "interrupted"
	}
	if !strings.Contains(page, want) {
		return fmt.Errorf("oidctest: device page does not say %q:\n%s", want, page)
	}
	return nil
}

// browse requests target and keeps submitting the page's post form (with its hidden inputs,
// passed through edit) until a page has none, or one that asks for typing, returning that page.
func (u *User) browse(ctx context.Context, method, target string, form url.Values, edit func(url.Values)) (string, error) {
	for range 10 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		if err != nil {
			return "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := u.client.Do(req)
		if err != nil {
			return "", fmt.Errorf("oidctest: browse %s: %w", target, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		page := string(data)
		m := postForm.FindStringSubmatch(page)
		if m == nil || len(anyInput.FindAllString(m[2], -1)) != len(hiddenInput.FindAllString(m[2], -1)) {
			return page, nil
		}
		action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
		if err != nil {
			return "", err
		}
		form = url.Values{}
		for _, in := range hiddenInput.FindAllStringSubmatch(m[2], -1) {
			form.Set(in[1], html.UnescapeString(in[2]))
		}
		if edit != nil {
			edit(form)
		}
		method, target = http.MethodPost, action.String()
	}
	return "", fmt.Errorf("oidctest: more than 10 forms in a row from %s", target)
}
