package entra

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/google/uuid"
)

// handleAuthorize plays the authorize endpoint with a user who is already signed in and consents to
// everything: a valid request is redirected straight back to the client with a code. Errors that
// make the redirect URI untrustworthy are shown as a page, as Entra does; the rest go back to the
// client as error parameters.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Authorize++ })
	q := r.URL.Query()
	if e := s.resolveTenant(r); e != nil {
		s.errorPage(w, r, e)
		return
	}
	app := s.app(q.Get("client_id"))
	if app == nil {
		s.errorPage(w, r, rejection("unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'.", q.Get("client_id"), r.PathValue("tenant")))
		return
	}
	redirect := q.Get("redirect_uri")
	if !app.redirectAllowed(redirect) {
		s.errorPage(w, r, rejection("invalid_request", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", redirect, app.ClientID))
		return
	}
	back := func(params url.Values) {
		if st := q.Get("state"); st != "" {
			params.Set("state", st)
		}
		if q.Get("response_mode") == "form_post" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = formPost.Execute(w, map[string]any{"Action": redirect, "Params": params})
			return
		}
		u, _ := url.Parse(redirect) // validated by redirectAllowed
		u.RawQuery = params.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(e *aadError) {
		s.mu.Lock()
		s.rejections = append(s.rejections, e.code)
		s.mu.Unlock()
		b := s.body(e, r)
		back(url.Values{"error": {b.Error}, "error_description": {b.ErrorDescription}, "error_uri": {b.ErrorURI}})
	}
	if q.Get("response_type") != "code" {
		fail(rejection("unsupported_response_type", 70005, "The app requested an unsupported response type '%s'.", q.Get("response_type")))
		return
	}
	challenge := q.Get("code_challenge")
	if challenge != "" && q.Get("code_challenge_method") != "S256" {
		fail(rejection("invalid_request", 9002313, "Invalid request. Only the S256 code_challenge_method is supported, got '%s'.", q.Get("code_challenge_method")))
		return
	}
	if _, e := parseScopes(q.Get("scope")); e != nil {
		fail(e)
		return
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = &authCode{
		grant:       grant{clientID: app.ClientID, user: s.opts.User},
		redirectURI: redirect, challenge: challenge, nonce: q.Get("nonce"), issued: s.now(),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "session_state": {uuid.NewString()}})
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, e *aadError) {
	s.mu.Lock()
	s.rejections = append(s.rejections, e.code)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.status)
	b := s.body(e, r)
	_ = errorTmpl.Execute(w, b)
}

var errorTmpl = template.Must(template.New("error").Parse(
	`<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>` +
		`<h1>Sorry, but we're having trouble signing you in.</h1><p>{{.ErrorDescription}}</p></body></html>`))

var formPost = template.Must(template.New("form").Parse(
	`<!DOCTYPE html><html><body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">` +
		`{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}` +
		`<noscript><button type="submit">Continue</button></noscript></form></body></html>`))
