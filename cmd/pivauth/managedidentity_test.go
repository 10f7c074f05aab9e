//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/testio"
)

const (
	graph = "https://graph.microsoft.com"
	vault = "https://vault.azure.net"
)

// miServer is a `pivauth serve --managed-identity` running for a test, with the environment it
// printed.
type miServer struct {
	url, secret string
	stderr      testio.SyncBuffer
	cmd         *exec.Cmd
	done        chan struct{}
}

// serve starts `pivauth serve --managed-identity` for the card's app with extra flags, and reads
// the environment it prints. At the end of the test it is stopped with SIGTERM and must exit 0.
func (e *entraBench) serve(t *testing.T, extra ...string) *miServer {
	t.Helper()
	s := &miServer{done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"serve", "--managed-identity"}, e.args(extra...)...)...)
	s.cmd.Env, s.cmd.Dir, s.cmd.SysProcAttr = e.c.env, e.c.dir, detached()
	s.cmd.Stderr = &s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	env := make(chan map[string]string, 1)
	go func() {
		vars := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for len(vars) < 5 && sc.Scan() {
			if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
		}
		env <- vars
		_, _ = bufio.NewReader(stdout).WriteTo(devNull{})
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			if code := s.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("serve ended with exit %d on SIGTERM; stderr:\n%s", code, s.stderr.String())
			}
		case <-time.After(runTimeout):
			_ = s.cmd.Process.Kill()
			t.Errorf("serve did not end on SIGTERM")
		}
	})
	select {
	case vars := <-env:
		s.url, s.secret = vars["IDENTITY_ENDPOINT"], vars["IDENTITY_HEADER"]
		if s.url == "" || len(s.secret) != 64 || vars["MSI_ENDPOINT"] != s.url || vars["MSI_SECRET"] != s.secret || vars["APPSETTING_WEBSITE_SITE_NAME"] != "pivauth" {
			t.Fatalf("serve printed %v; stderr:\n%s", vars, s.stderr.String())
		}
	case <-time.After(runTimeout):
		t.Fatalf("serve printed no environment; stderr:\n%s", s.stderr.String())
	}
	return s
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// miRequest is one request to the endpoint: the protocol version, the header carrying the secret
// and its value, the query, and a change to the request (Host, Origin, method).
type miRequest struct {
	version, header, secret string
	query                   url.Values
	change                  func(*http.Request)
	path                    string // appended to the endpoint's URL
}

// miAnswer is the endpoint's JSON answer, success or error.
type miAnswer struct {
	status      int
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	ExpiresIn   string `json:"expires_in"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (s *miServer) get(t *testing.T, r miRequest) miAnswer {
	t.Helper()
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if r.version != "" {
		q.Set("api-version", r.version)
	}
	req, err := http.NewRequest(http.MethodGet, s.url+r.path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.header != "" {
		req.Header.Set(r.header, r.secret)
	}
	if r.change != nil {
		r.change(req)
	}
	resp, err := (&http.Client{Timeout: runTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a miAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer of %s: %v", req.URL, err)
	}
	a.status = resp.StatusCode
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return a
}

// TestManagedIdentityRefusals: every request that is not a local client's with the secret is
// refused before any card operation or Entra request, with the status and message the SDKs show;
// so is a --listen address that is not loopback.
func TestManagedIdentityRefusals(t *testing.T) {
	e := startEntraBench(t)
	e.b.ResetStats()
	e.c.fails(ExitUsage, []string{"--listen 0.0.0.0:0 is not a loopback address", "--listen-any"},
		append([]string{"serve", "--managed-identity", "--listen", "0.0.0.0:0"}, e.args()...)...)
	e.c.fails(ExitUsage, []string{"--listen 192.0.2.1 is not a loopback address"},
		append([]string{"exec", "--managed-identity", "--listen", "192.0.2.1"}, e.args("--", "true")...)...)
	e.c.fails(ExitUsage, []string{"Entra ID"}, "serve", "--managed-identity", "--issuer", "https://idp.example", "--client-id", "c")
	e.c.fails(ExitUsage, []string{"--scope does not go with --managed-identity"},
		append([]string{"exec", "--managed-identity"}, e.args("--scope", graphDefault, "--", "true")...)...)
	if st := e.b.Stats(); st.APDUs != 0 {
		t.Errorf("usage errors cost %d APDUs %v, want none", st.APDUs, st.Instructions)
	}

	s := e.serve(t, "--no-cache")
	e.b.ResetStats()
	graphQuery := url.Values{"resource": {graph}}
	host := strings.TrimPrefix(strings.TrimSuffix(s.url, "/msi/token"), "http://")
	_, port, _ := strings.Cut(host, ":")
	for _, c := range []struct {
		name   string
		req    miRequest
		status int
		msg    string
	}{
		{"no secret", miRequest{version: "2019-08-01", query: graphQuery}, 401, "carries no secret"},
		{"wrong secret", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: strings.Repeat("0", 64), query: graphQuery}, 401, "carries a wrong secret"},
		{"secret cut short", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret[:63], query: graphQuery}, 401, "wrong secret"},
		{"api-version 2017 with the secret in the 2019 header", miRequest{version: "2017-09-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery}, 401, "no secret"},
		{"foreign Host", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery,
			change: func(r *http.Request) { r.Host = "attacker.example:" + port }}, 400, `Host "attacker.example:` + port + `" is not a loopback name`},
		{"browser Origin", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery,
			change: func(r *http.Request) { r.Header.Set("Origin", "https://attacker.example") }}, 400, "web pages (Origin https://attacker.example)"},
		{"POST", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery,
			change: func(r *http.Request) { r.Method = http.MethodPost }}, 405, "GET"},
		{"another client_id", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret,
			query: url.Values{"resource": {graph}, "client_id": {"11111111-2222-3333-4444-555555555555"}}}, 400, "asks for another identity (client_id=11111111-2222-3333-4444-555555555555)"},
		{"principal_id", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret,
			query: url.Values{"resource": {graph}, "principal_id": {"p"}}}, 400, "serves only app app-card"},
		{"mi_res_id", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret,
			query: url.Values{"resource": {graph}, "mi_res_id": {"/subscriptions/x"}}}, 400, "another identity (mi_res_id"},
		{"no resource", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret}, 400, "names no resource"},
		{"unknown api-version", miRequest{version: "2018-02-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery}, 400, `api-version "2018-02-01" is not served`},
		{"another path", miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: graphQuery, path: "/x"}, 400, "/msi/token"},
	} {
		a := s.get(t, c.req)
		if a.status != c.status || a.AccessToken != "" || a.Error == "" || !strings.Contains(a.Description, c.msg) {
			t.Errorf("%s: status %d, %+v; want %d and %q", c.name, a.status, a, c.status, c.msg)
		}
	}
	if st, es := e.b.Stats(), e.srv.Stats(); st.Signatures != 0 || st.APDUs != 0 || es.Token != 0 {
		t.Errorf("refused requests cost %d signatures, %d APDUs, %d Entra requests; want none", st.Signatures, st.APDUs, es.Token)
	}

	// --listen-any listens where it is told, with a warning; any Host is accepted then, never a
	// request without the secret.
	anyS := e.serve(t, "--no-cache", "--listen", "0.0.0.0:0", "--listen-any")
	if !strings.Contains(anyS.stderr.String(), "warning: the managed-identity endpoint listens on 0.0.0.0:0") {
		t.Errorf("--listen-any: no warning:\n%s", anyS.stderr.String())
	}
	if a := anyS.get(t, miRequest{version: "2019-08-01", query: graphQuery, change: func(r *http.Request) { r.Host = "build-box.example" }}); a.status != 401 {
		t.Errorf("--listen-any without the secret: %d %+v", a.status, a)
	}
	if st := e.b.Stats(); st.Signatures != 0 {
		t.Errorf("--listen-any refusal cost %d signatures", st.Signatures)
	}
}

// TestManagedIdentityServe: tokens in both protocol versions and both resource forms, one card
// signature per resource; Entra's and the card's errors as the JSON the SDKs print, final (4xx).
func TestManagedIdentityServe(t *testing.T) {
	e := startEntraBench(t)
	s := e.serve(t, "--no-cache", "--verbose")
	e.b.ResetStats()
	a := s.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: url.Values{"resource": {graph}}})
	exp, _ := strconv.ParseInt(a.ExpiresOn, 10, 64)
	in, _ := strconv.Atoi(a.ExpiresIn)
	if a.status != 200 || in < 3000 || in > 3600 || a.Resource != graph || a.TokenType != "Bearer" || a.ClientID != e.clientID ||
		time.Until(time.Unix(exp, 0)) < 50*time.Minute || jwtClaims(t, a.AccessToken)["aud"] != graph {
		t.Fatalf("2019-08-01 token: %+v", a)
	}
	// The same resource again, in the 2017 protocol and as a scope, behind msrestazure's trailing
	// slash, and naming the endpoint's own client id: the same token, no signature.
	for _, r := range []miRequest{
		{version: "2017-09-01", header: "secret", secret: s.secret, query: url.Values{"resource": {graph}}, path: "/"},
		{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: url.Values{"resource": {graph + "/.default"}}},
		{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: url.Values{"resource": {graph}, "client_id": {e.clientID}}},
	} {
		b := s.get(t, r)
		if b.status != 200 || b.AccessToken != a.AccessToken || b.Resource != graph || (r.version == "2017-09-01") != (b.ClientID == "") {
			t.Errorf("again (%s %v): %+v", r.version, r.query, b)
		}
	}
	v := s.get(t, miRequest{version: "2017-09-01", header: "secret", secret: s.secret, query: url.Values{"resource": {vault}}})
	if v.status != 200 || jwtClaims(t, v.AccessToken)["aud"] != vault {
		t.Errorf("vault token: %+v", v)
	}
	if st, es := e.b.Stats(), e.srv.Stats(); st.Signatures != 2 || st.PINVerifies != 2 || es.Issued != 2 {
		t.Errorf("two resources cost %d signatures, %d PIN verifications, %d tokens issued; want 2 each", st.Signatures, st.PINVerifies, es.Issued)
	}
	// Clients asking at once for a resource wait for one token.
	e.b.ResetStats()
	const outlook = "https://outlook.office365.com"
	answers := make([]miAnswer, 6)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			answers[i] = s.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: url.Values{"resource": {outlook}}})
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != 200 || a.AccessToken != answers[0].AccessToken || jwtClaims(t, a.AccessToken)["aud"] != outlook {
			t.Errorf("concurrent request %d: %+v", i, a)
		}
	}
	if st := e.b.Stats(); st.Signatures != 1 {
		t.Errorf("%d concurrent requests for one resource cost %d signatures, want 1", len(answers), st.Signatures)
	}

	// The debug log tells what was served, never the secret or a token.
	if log := s.stderr.String(); !strings.Contains(log, "managed identity: token") || strings.Contains(log, s.secret) || strings.Contains(log, a.AccessToken) {
		t.Errorf("serve --verbose logged a secret, or nothing:\n%s", log)
	}

	// Entra's refusal: the AADSTS code, its OAuth error and pivauth's advice, status 403.
	other := e.serve(t, "--no-cache", "--client-id", "no-such-app")
	r := other.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: other.secret, query: url.Values{"resource": {graph}}})
	if r.status != 403 || r.Error != "unauthorized_client" || !strings.Contains(r.Description, "AADSTS700016") || !strings.Contains(r.Description, "check the client id") {
		t.Errorf("unknown app: %d %+v", r.status, r)
	}
	// The card's refusal: a wrong PIN, with the tries left, no signature.
	e.b.ResetStats()
	wrong := e.serve(t, "--no-cache", "--pin-file", writeFile(t, e.c.dir, "wrong-pin", "999999\n", 0o600))
	r = wrong.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: wrong.secret, query: url.Values{"resource": {graph}}})
	if r.status != 403 || r.Error != "card_pin" || !strings.Contains(r.Description, "PIN incorrect: 2 tries left") {
		t.Errorf("wrong PIN: %d %+v", r.status, r)
	}
	if st := e.b.Stats(); st.Signatures != 0 {
		t.Errorf("a wrong PIN cost %d signatures", st.Signatures)
	}
	// A wrong PIN is not sent twice: the endpoint says why instead.
	r = wrong.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: wrong.secret, query: url.Values{"resource": {graph}}})
	if r.status != 403 || r.Error != "card_pin" || !strings.Contains(r.Description, "the card refused the PIN in") {
		t.Errorf("wrong PIN again: %d %+v", r.status, r)
	}
	// The lockout guard: with one try left (another wrong PIN file), even the right PIN is not
	// presented; the SDK is told how to allow the last try.
	wrong2 := e.serve(t, "--no-cache", "--pin-file", writeFile(t, e.c.dir, "wrong-pin-2", "888888\n", 0o600))
	r = wrong2.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: wrong2.secret, query: url.Values{"resource": {graph}}})
	if r.status != 403 || !strings.Contains(r.Description, "PIN incorrect: 1 try left") {
		t.Errorf("second wrong PIN: %d %+v", r.status, r)
	}
	guarded := e.serve(t, "--no-cache")
	e.b.ResetStats()
	r = guarded.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: guarded.secret, query: url.Values{"resource": {graph}}})
	if r.status != 403 || r.Error != "card_pin" || !strings.Contains(r.Description, "only 1 PIN try left") || !strings.Contains(r.Description, "--allow-last-try") {
		t.Errorf("lockout guard: %d %+v", r.status, r)
	}
	if st := e.b.Stats(); st.PINVerifies != 0 || st.Signatures != 0 {
		t.Errorf("the lockout guard let %d PIN verifications, %d signatures through", st.PINVerifies, st.Signatures)
	}
}

// TestManagedIdentityDetach: eval "$(pivauth serve --managed-identity --detach)" ends, leaving the
// endpoint serving in the background with PIVAUTH_SERVE_PID to stop it; a failure to start is
// reported by the command itself, with its exit code.
func TestManagedIdentityDetach(t *testing.T) {
	e := startEntraBench(t)
	args := strings.Join(append([]string{binary, "serve", "--managed-identity", "--detach"}, e.args("--no-cache")...), "' '")
	sh := exec.Command("sh", "-c", `eval "$('`+args+`')" && printf '%s\n%s\n%s\n' "$IDENTITY_ENDPOINT" "$IDENTITY_HEADER" "$PIVAUTH_SERVE_PID"`)
	sh.Env, sh.Dir, sh.SysProcAttr = e.c.env, e.c.dir, detached()
	var stdout, stderr strings.Builder
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := testio.Run(sh, runTimeout); err != nil {
		t.Fatalf("eval serve --detach: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	pid := 0
	if len(lines) == 3 {
		pid, _ = strconv.Atoi(lines[2])
	}
	if pid <= 0 {
		t.Fatalf("eval serve --detach: %q\n%s", stdout.String(), stderr.String())
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for deadline := time.Now().Add(runTimeout); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the detached endpoint did not end on SIGTERM")
				return
			}
		}
	})
	if !strings.Contains(stderr.String(), "stop it with kill $PIVAUTH_SERVE_PID") {
		t.Errorf("serve --detach said:\n%s", stderr.String())
	}
	s := &miServer{url: lines[0], secret: lines[1]}
	if a := s.get(t, miRequest{version: "2019-08-01", header: "X-IDENTITY-HEADER", secret: s.secret, query: url.Values{"resource": {graph}}}); a.status != 200 || jwtClaims(t, a.AccessToken)["aud"] != graph {
		t.Errorf("the detached endpoint: %+v", a)
	}
	e.c.fails(ExitUsage, []string{"--listen 0.0.0.0:0 is not a loopback address"},
		append([]string{"serve", "--managed-identity", "--detach", "--listen", "0.0.0.0:0"}, e.args()...)...)
}

// TestManagedIdentityAgent: with `pivauth agent` running, the endpoint signs through it (the PIN
// given once, by the first command's --pin-file) and keeps tokens in its memory, so a second
// endpoint, without any PIN source, serves the first one's token and signs only for a new
// resource; the agent's audit records name the resource and the SDK client's executable.
func TestManagedIdentityAgent(t *testing.T) {
	gc := goClient(t)
	e := startEntraBench(t)
	runtime := filepath.Join(e.c.dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := e.c.with("XDG_RUNTIME_DIR=" + runtime)
	startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	e.b.ResetStats()
	c.ok(append([]string{"exec", "--managed-identity"}, e.args("--", gc, "managed", graph+"/.default")...)...)
	noPIN := []string{"exec", "--managed-identity", "--reader", e.b.Reader, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", e.ca,
		"--", gc, "default", graph + "/.default", vault + "/.default"}
	r := c.ok(noPIN...)
	if toks := sdkTokens(t, r.stdout); len(toks) != 2 || jwtClaims(t, toks[0].Token)["aud"] != graph || jwtClaims(t, toks[1].Token)["aud"] != vault {
		t.Errorf("through the agent: %s", r.stdout)
	}
	if st := e.b.Stats(); st.Signatures != 2 || st.PINVerifies != 2 {
		t.Errorf("two endpoints, two resources through the agent: %d signatures, %d PIN verifications; want 2 and 2", st.Signatures, st.PINVerifies)
	}
	var signed []string
	for _, ev := range auditEvents(t, c) {
		if ev.Requester != nil && strings.HasPrefix(ev.Purpose.Process, gc+" (pid ") {
			signed = append(signed, ev.Purpose.Command)
		}
	}
	if strings.Join(signed, ",") != "managed-identity "+graph+",managed-identity "+vault {
		t.Errorf("the agent's audit records for the SDK client: %q", signed)
	}
}
