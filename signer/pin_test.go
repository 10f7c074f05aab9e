package signer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/piv"
)

var testReq = PINRequest{Reader: "Virtual PCD 00 01", Slot: piv.SlotAuthentication, Retries: 3}

func TestDescription(t *testing.T) {
	for _, tc := range []struct {
		req  PINRequest
		want string
	}{
		{testReq, `PIN for the card in "Virtual PCD 00 01", slot 9a (3 tries left)`},
		{PINRequest{Reader: "R", Card: "YubiKey 5.7.1 #42", Slot: piv.SlotSignature, Retries: 1},
			`PIN for YubiKey 5.7.1 #42, slot 9c (LAST try before the PIN blocks)`},
		{PINRequest{Reader: "R", Card: "YubiKey 5.7.1 #42", Slot: piv.SlotAuthentication, Retries: 2, Retry: true},
			`Wrong PIN: 2 tries left. PIN for YubiKey 5.7.1 #42, slot 9a`},
		{PINRequest{Reader: "R", Card: "PIV card of Jane Doe", Slot: piv.SlotAuthentication, Retries: 1, Retry: true},
			`Wrong PIN: 1 try left, the LAST before the PIN blocks. PIN for PIV card of Jane Doe, slot 9a`},
		{PINRequest{Reader: "R", Slot: piv.SlotAuthentication, Retries: -1, Retry: true},
			`Wrong PIN. PIN for the card in "R", slot 9a`},
		{PINRequest{Reader: "R", Slot: piv.SlotSignature, Retries: -1}, `PIN for the card in "R", slot 9c`},
	} {
		if got := tc.req.Description(); got != tc.want {
			t.Errorf("Description() = %q\nwant %q", got, tc.want)
		}
	}
}

func TestEnvReadsAndUnsets(t *testing.T) {
	t.Setenv(PINEnv, "654321")
	src := Env()
	if _, ok := os.LookupEnv(PINEnv); ok {
		t.Fatalf("%s still in the environment after Env()", PINEnv)
	}
	for range 2 { // every signer of the process may ask
		pin, err := src.PIN(context.Background(), testReq)
		if err != nil || string(pin) != "654321" {
			t.Fatalf("PIN() = %q, %v", pin, err)
		}
	}
	retry := testReq
	retry.Retry = true
	if _, err := src.PIN(context.Background(), retry); !errors.Is(err, ErrNoPIN) {
		t.Errorf("after a wrong PIN: %v, want ErrNoPIN (the same PIN would burn a try)", err)
	}
}

func TestEnvUnset(t *testing.T) {
	t.Setenv(PINEnv, "x")
	os.Unsetenv(PINEnv)
	_, err := Env().PIN(context.Background(), testReq)
	if !errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), PINEnv) {
		t.Errorf("unset variable: %v", err)
	}
}

func writePINFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode passes through umask
		t.Fatal(err)
	}
	return p
}

func TestFile(t *testing.T) {
	for content, want := range map[string]string{
		"123456\n": "123456", "123456\r\n": "123456", "12345678": "12345678", "1234 56\n\n": "1234 56\n",
	} {
		got, err := File(writePINFile(t, content, 0o600)).PIN(context.Background(), testReq)
		if err != nil || string(got) != want {
			t.Errorf("file %q: PIN %q, %v; want %q", content, got, err, want)
		}
	}
}

func TestFileRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"group readable": {"123456\n", 0o640, "chmod 600"},
		"world readable": {"123456\n", 0o604, "chmod 600"},
		"group writable": {"123456\n", 0o620, "chmod 600"},
		"empty":          {"\n", 0o600, "empty"},
		"too long":       {strings.Repeat("1", 300), 0o600, "longer than any PIN"},
	} {
		p := writePINFile(t, tc.content, tc.mode)
		_, err := File(p).PIN(context.Background(), testReq)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want it to name %s and say %q", name, err, p, tc.want)
		}
		if errors.Is(err, ErrNoPIN) {
			t.Errorf("%s: an unusable PIN file must stop the chain, not fall through", name)
		}
	}
	retry := testReq
	retry.Retry = true
	if _, err := File(writePINFile(t, "1\n", 0o600)).PIN(context.Background(), retry); !errors.Is(err, ErrNoPIN) {
		t.Errorf("after a wrong PIN: %v, want ErrNoPIN", err)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")).PIN(context.Background(), testReq); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestChain(t *testing.T) {
	decline := func(why string) PINSource {
		return PINFunc(func(context.Context, PINRequest) ([]byte, error) { return nil, noPIN("%s", why) })
	}
	give := func(pin string) PINSource {
		return PINFunc(func(context.Context, PINRequest) ([]byte, error) { return []byte(pin), nil })
	}
	pin, err := Chain(decline("a"), give("111111"), give("222222")).PIN(context.Background(), testReq)
	if err != nil || string(pin) != "111111" {
		t.Errorf("first giving source: %q, %v", pin, err)
	}
	_, err = Chain(decline("no alpha"), decline("no beta")).PIN(context.Background(), testReq)
	if !errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), "no alpha; no beta") || !strings.Contains(err.Error(), "--pin-file") {
		t.Errorf("all declined: %v", err)
	}
	stop := PINFunc(func(context.Context, PINRequest) ([]byte, error) { return nil, ErrPINCanceled })
	if _, err := Chain(stop, give("1")).PIN(context.Background(), testReq); !errors.Is(err, ErrPINCanceled) {
		t.Errorf("cancel did not stop the chain: %v", err)
	}
}

func TestAssuanEscaping(t *testing.T) {
	if got := assuanEscape("50% of\nit\r"); got != "50%25 of%0Ait%0D" {
		t.Errorf("escape: %q", got)
	}
	if got := string(assuanUnescape(nil, []byte("12%2534%0a%zz%4"))); got != "12%34\n%zz%4" {
		t.Errorf("unescape: %q", got)
	}
}

// sourceFunc is a PIN source for the chain tests, Interactive as person says.
type sourceFunc struct {
	pin    string
	person bool
	asked  int
}

func (s *sourceFunc) PIN(_ context.Context, req PINRequest) ([]byte, error) {
	s.asked++
	if req.Retry && !s.person {
		return nil, noPIN("the card refused the PIN from the test source; correct it")
	}
	return []byte(s.pin), nil
}

func (s *sourceFunc) AsksPerson() bool { return s.person }

// TestChainRetry: after a refused PIN the chain asks again only the source that gave it, and
// only when a person typed it; a PIN from a file or the environment ends the chain with
// ErrPINNotRetried, never falling through to a prompt.
func TestChainRetry(t *testing.T) {
	ctx := context.Background()
	retry := testReq
	retry.Retry, retry.Retries = true, 2

	file, prompt := &sourceFunc{pin: "111111"}, &sourceFunc{pin: "222222", person: true}
	c := Chain(file, prompt).(Interactive)
	if c.AsksPerson() {
		t.Error("a chain that gave no PIN yet says a person typed one")
	}
	if pin, err := c.PIN(ctx, testReq); err != nil || string(pin) != "111111" || c.AsksPerson() {
		t.Fatalf("first PIN = %q, %v (person %v), want the file's", pin, err, c.AsksPerson())
	}
	_, err := c.PIN(ctx, retry)
	if !errors.Is(err, ErrPINNotRetried) || errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), "(2 tries left)") {
		t.Errorf("retry after the file's PIN: %v, want ErrPINNotRetried with the tries left (and not ErrNoPIN, which would fall through)", err)
	}
	if prompt.asked != 0 {
		t.Errorf("the prompt was asked %d times after the file's PIN was refused", prompt.asked)
	}

	declines := PINFunc(func(context.Context, PINRequest) ([]byte, error) { return nil, noPIN("unset") })
	c = Chain(declines, prompt).(Interactive)
	if _, err := c.PIN(ctx, testReq); err != nil || !c.AsksPerson() {
		t.Fatalf("first PIN from the prompt: %v, person %v", err, c.AsksPerson())
	}
	if pin, err := c.PIN(ctx, retry); err != nil || string(pin) != "222222" || prompt.asked != 2 {
		t.Errorf("retry after a typed PIN = %q, %v (asked %d), want the prompt asked again", pin, err, prompt.asked)
	}
}
