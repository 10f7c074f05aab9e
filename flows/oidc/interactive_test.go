package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
)

// deviceRun runs the device grant; the test user answers from the show callback, as a person
// would after reading the code, once before() returns.
func deviceRun(t *testing.T, p *oidctest.Provider, c *oidc.Client, approve bool, before func(context.Context)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	userDone := make(chan error, 1)
	shown := false
	tok, err := c.Device(ctx, oidc.TokenRequest{Scopes: []string{"openid", "read"}, Resources: []string{api}}, func(dc oidc.DeviceCode) error {
		if dc.UserCode == "" || dc.VerificationURI == "" {
			t.Errorf("device code %+v lacks what a person needs", dc)
		}
		shown = true
		go func() {
			before(ctx)
			userDone <- p.User().ApproveDevice(ctx, dc.VerificationURI, dc.UserCode, approve)
		}()
		return nil
	})
	if !shown {
		return err
	}
	if uerr := <-userDone; uerr != nil {
		t.Fatalf("test user: %v", uerr)
	}
	if err == nil {
		if cl := claims(t, tok); cl["sub"] != "bench.user" || cl["aud"] != api {
			t.Errorf("device token claims %v", cl)
		}
		if tok.Extra("id_token") == nil {
			t.Error("no id_token for scope openid")
		}
	}
	return err
}

// TestDeviceGrant: the person approves (with the provider answering slow_down once, which must
// add 5 s to the interval), or declines (access_denied).
func TestDeviceGrant(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	p := startProvider(t, oidctest.Config{
		Clients: []oidctest.Client{oidctest.PrivateKeyJWT("device", k.cert)},
		Device:  oidctest.Device{Interval: 1, SlowDownPolls: 1},
	})
	c := newClient(t, p, oidc.Config{ClientID: "device", Identity: k.identity()})
	t.Run("approve", func(t *testing.T) {
		start := time.Now()
		// Every request signs one assertion: the device request, then each poll. The person
		// approves after the first poll, so that poll is pending and gets slow_down.
		base := k.signer.Count()
		afterFirstPoll := func(ctx context.Context) {
			for k.signer.Count() < base+2 && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if err := deviceRun(t, p, c, true, afterFirstPoll); err != nil {
			t.Fatal(err)
		}
		// The first poll (after 1 s) gets slow_down, so the next waits 1+5 s: a lower bound the
		// RFC requires, not a speed goal.
		if elapsed := time.Since(start); elapsed < 6*time.Second {
			t.Errorf("token after %v: slow_down did not lengthen the interval", elapsed)
		}
	})
	t.Run("decline", func(t *testing.T) {
		err := deviceRun(t, p, c, false, func(context.Context) {})
		var oe *oidc.Error
		if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeAccessDenied {
			t.Fatalf("got %v, want access_denied", err)
		}
	})
}

// TestDeviceGrantOverTLS: with tls_client_auth the whole device grant (request and every poll)
// costs one card signature, and the token is bound.
func TestDeviceGrantOverTLS(t *testing.T) {
	k := newKey(t, assertiontest.Ed25519)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{oidctest.SelfSignedTLSClientAuth("device", k.cert).Bound()}})
	c := newClient(t, p, oidc.Config{ClientID: "device", AuthMethod: oidc.SelfSignedTLSClientAuth, Identity: k.identity()})
	if err := deviceRun(t, p, c, true, func(context.Context) {}); err != nil {
		t.Fatal(err)
	}
	if n := k.signer.Count(); n != 1 {
		t.Errorf("device grant over mTLS cost %d signatures, want 1", n)
	}
}

// TestDeviceCodeExpires: nobody signs in; the grant ends with expired_token.
func TestDeviceCodeExpires(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	p := startProvider(t, oidctest.Config{
		Clients: []oidctest.Client{oidctest.PrivateKeyJWT("device", k.cert)},
		Device:  oidctest.Device{Interval: 1, TTL: 2},
	})
	c := newClient(t, p, oidc.Config{ClientID: "device", Identity: k.identity()})
	_, err := c.Device(context.Background(), oidc.TokenRequest{Scopes: []string{"openid"}}, func(oidc.DeviceCode) error { return nil })
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeExpiredToken {
		t.Fatalf("got %v, want expired_token", err)
	}
}

// TestAuthorizationCode: sign-in with PKCE on a loopback redirect, the code redeemed with the
// card; a declined sign-in is an error, forged redirects (wrong state) do not end the sign-in.
func TestAuthorizationCode(t *testing.T) {
	k := newKey(t, assertiontest.RSA2048)
	clients := []oidctest.Client{oidctest.PrivateKeyJWT("app", k.cert)}
	p := startProvider(t, oidctest.Config{Clients: clients})
	c := newClient(t, p, oidc.Config{ClientID: "app", Identity: k.identity()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req := oidc.AuthCodeRequest{TokenRequest: oidc.TokenRequest{Scopes: []string{"openid", "email", "read"}, Resources: []string{api}}}

	t.Run("sign-in", func(t *testing.T) {
		user := p.User()
		req := req
		req.Open = func(authURL string) error {
			go func() {
				if _, err := user.Authorize(ctx, authURL); err != nil {
					t.Errorf("test user: %v", err)
				}
			}()
			return nil
		}
		// offline_access with prompt=consent (which oidc-provider requires for it) brings a
		// refresh token, redeemed below.
		req.Scopes = append(req.Scopes, "offline_access")
		req.AuthParams = url.Values{"prompt": {"consent"}}
		tok, err := c.AuthorizationCode(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if cl := claims(t, tok); cl["sub"] != "bench.user" || cl["aud"] != api || cl["client_id"] != "app" {
			t.Errorf("token claims %v", cl)
		}
		if tok.Extra("id_token") == nil {
			t.Error("no id_token")
		}
		if k.signer.Count() != 1 {
			t.Errorf("sign-in cost %d card signatures, want 1 (the code redemption)", k.signer.Count())
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		refreshed, err := c.Refresh(ctx, tok.RefreshToken, oidc.TokenRequest{Resources: []string{api}})
		if err != nil {
			t.Fatal(err)
		}
		if cl := claims(t, refreshed); cl["sub"] != "bench.user" || refreshed.AccessToken == tok.AccessToken {
			t.Errorf("refreshed token claims %v", cl)
		}
	})

	t.Run("forged redirect", func(t *testing.T) {
		// Redirects that are not this sign-in's (another state, an error without state) are
		// answered with an error page and do not end it: the person's sign-in still completes.
		user := p.User()
		req := req
		browsed := make(chan struct{})
		req.Open = func(authURL string) error {
			u, _ := url.Parse(authURL)
			redirect := u.Query().Get("redirect_uri")
			go func() {
				defer close(browsed)
				for _, forged := range []url.Values{
					{"code": {"stolen"}, "state": {"guessed"}, "iss": {p.Issuer}},
					{"error": {"access_denied"}, "error_description": {"forged"}},
				} {
					if status := redirectBack(t, redirect, forged); status != http.StatusBadRequest {
						t.Errorf("forged redirect %v answered %d, want 400", forged, status)
					}
				}
				if _, err := user.Authorize(ctx, authURL); err != nil {
					t.Errorf("test user: %v", err)
				}
			}()
			return nil
		}
		tok, err := c.AuthorizationCode(ctx, req)
		<-browsed
		if err != nil {
			t.Fatalf("sign-in after forged redirects: %v", err)
		}
		if cl := claims(t, tok); cl["sub"] != "bench.user" {
			t.Errorf("token claims %v", cl)
		}
	})

	t.Run("declined", func(t *testing.T) {
		k := newKey(t, assertiontest.P256)
		p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{oidctest.PrivateKeyJWT("app", k.cert)}, DenyUser: true})
		c := newClient(t, p, oidc.Config{ClientID: "app", Identity: k.identity()})
		req := req
		req.Open = func(authURL string) error {
			go func() { _, _ = p.User().Authorize(ctx, authURL) }()
			return nil
		}
		_, err := c.AuthorizationCode(ctx, req)
		var oe *oidc.Error
		if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeAccessDenied {
			t.Fatalf("got %v, want access_denied", err)
		}
		if k.signer.Count() != 0 {
			t.Errorf("a declined sign-in used the card %d times", k.signer.Count())
		}
	})
}
