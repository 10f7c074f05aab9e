package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// DeviceCode is the device authorization answer (RFC 8628 section 3.2) a person acts on.
type DeviceCode struct {
	// UserCode is the code the person enters at VerificationURI.
	UserCode string `json:"user_code"`
	// VerificationURI is where the person signs in.
	VerificationURI string `json:"verification_uri"`
	// VerificationURIComplete includes the user code (for a link or QR code); may be empty.
	VerificationURIComplete string `json:"verification_uri_complete"`
	// ExpiresIn is the lifetime of the codes in seconds.
	ExpiresIn int64 `json:"expires_in"`
	// Interval is the polling interval in seconds (0: the RFC's 5).
	Interval int64 `json:"interval"`

	deviceCode string
}

// deviceAnswer is the JSON answer of the device authorization endpoint.
type deviceAnswer struct {
	DeviceCode
	DeviceCodeValue string `json:"device_code"`
}

// The RFC 8628 polling interval default and the back-off added on "slow_down"; the lifetime of a
// device code whose answer states none (expires_in is required, 1800 s is the RFC's example), and
// the longest pivauth waits whatever the provider says (device codes live 10 to 30 minutes).
const (
	defaultDeviceInterval = 5 * time.Second
	slowDownStep          = 5 * time.Second
	defaultDeviceLifetime = 30 * time.Minute
	maxDeviceLifetime     = time.Hour
)

// Device runs the device authorization grant (RFC 8628): it asks for a device code, hands it to
// show (print the URI and user code; an error from show aborts), then polls the token endpoint
// at the announced interval, backing off by 5 s on "slow_down", until the person has signed in,
// declined (access_denied) or the code expired (expired_token), or ctx ends. The wait, a poll in
// flight included, ends when the code expires (expires_in; 30 minutes when the provider states
// none, an hour at most).
func (c *Client) Device(ctx context.Context, req TokenRequest, show func(DeviceCode) error) (*oauth2.Token, error) {
	form := url.Values{}
	req.apply(form)
	var answer deviceAnswer
	if err := c.post(ctx, "device_authorization_endpoint", c.meta.DeviceAuthorizationEndpoint, form, &answer); err != nil {
		return nil, err
	}
	if answer.DeviceCodeValue == "" || answer.UserCode == "" || answer.VerificationURI == "" {
		return nil, fmt.Errorf("oidc: device authorization endpoint %s answered without device code, user code or verification URI", c.meta.DeviceAuthorizationEndpoint)
	}
	code := answer.DeviceCode
	code.deviceCode = answer.DeviceCodeValue
	if err := show(code); err != nil {
		return nil, err
	}
	interval := defaultDeviceInterval
	if code.Interval > 0 {
		interval = time.Duration(code.Interval) * time.Second
	}
	lifetime := defaultDeviceLifetime
	if code.ExpiresIn > 0 {
		lifetime = min(time.Duration(code.ExpiresIn)*time.Second, maxDeviceLifetime)
	}
	pollCtx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {code.deviceCode}}
	for _, res := range req.Resources {
		poll.Add("resource", res)
	}
	expired := func() error {
		return &Error{Endpoint: c.meta.TokenEndpoint, Code: ErrCodeExpiredToken,
			Description: "the device code expired while polling", grant: poll.Get("grant_type"), client: c}
	}
	for {
		wait := time.NewTimer(interval)
		select {
		case <-pollCtx.Done():
			wait.Stop()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("oidc: waiting for the device sign-in: %w", ctx.Err())
			}
			return nil, expired()
		case <-wait.C:
		}
		tok, err := c.requestToken(pollCtx, cloneValues(poll))
		var oe *Error
		switch {
		case err == nil:
			return tok, nil
		case pollCtx.Err() != nil && ctx.Err() == nil:
			return nil, expired()
		case errors.As(err, &oe) && oe.Code == ErrCodeAuthorizationPending:
		case errors.As(err, &oe) && oe.Code == ErrCodeSlowDown:
			interval += slowDownStep
		default:
			return nil, err
		}
	}
}

// cloneValues copies a form so each request adds its own client authentication.
func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
