//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// FuzzProtocol sends arbitrary request lines, after a valid hello, to an agent serving a software
// card over its real socket. Whatever arrives, the agent answers only with well-formed reply lines
// of the known types, never signs a digest with a hash it does not allow, and goes on serving
// other clients.
func FuzzProtocol(f *testing.F) {
	for _, seed := range []string{
		`{"op":"status"}`,
		`{"op":"key","key":{"slot":"9a"}}`,
		`{"op":"sign","key":{"slot":"9a"},"digest":"` + b64(32) + `","hash":5,"purpose":{"jti":"j"}}`,
		`{"op":"sign","key":{"slot":"9a"},"digest":"` + b64(20) + `","hash":3}`,
		`{"op":"sign","key":{"slot":"9a"},"digest":"` + b64(48) + `","hash":6}` + "\n" + `{"op":"pin","pin":"MTIzNDU2"}`,
		`{"op":"sign","key":{"slot":"9a"},"digest":"` + b64(32) + `","hash":0}` + "\n" + `{"op":"pin","pin":"MTIzNDU2"}`,
		`{"op":"sign","key":{"slot":"9a"},"digest":"` + b64(32) + `","hash":5,"pss_salt":-1}`,
		`{"op":"token-put","profile":"p","token":{"data":"dG9r","expires":"2999-01-01T00:00:00Z"}}` + "\n" + `{"op":"token-get","profile":"p"}`,
		`{"op":"forget","card":"serial:4242","key":{"slot":""}}`,
		`{"op":"lock"}`,
		`{"op":"pin","pin":"MTIzNDU2"}`,
		`{"op":"cancel","unavailable":true}`,
		`{"op":"hello","version":99}`,
		`{"op":"key"}`,
		`{"op":"token-put","profile":"p"}`,
		`{"op":`,
		"\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	h := startAgentWith(f, filepath.Join(f.TempDir(), "run", "agent.sock"), func(c *Config) { c.ReadTimeout = time.Second })
	known := map[string]bool{typeOK: true, typeError: true, typePINPrompt: true, typeTouch: true}
	f.Fuzz(func(t *testing.T, input []byte) {
		nc, err := net.Dial("unix", h.path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		hello, _ := encodeLine(request{Op: opHello, Version: protocolVersion, CanPrompt: true})
		if _, err := nc.Write(append(append(hello, input...), '\n')); err != nil {
			t.Fatal(err)
		}
		_ = nc.(*net.UnixConn).CloseWrite() // a PIN prompt gets EOF: the operation fails, the agent goes on
		_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		sc := bufio.NewScanner(nc)
		sc.Buffer(nil, maxMessage+1)
		for sc.Scan() {
			var rep reply
			if err := json.Unmarshal(sc.Bytes(), &rep); err != nil || !known[rep.Type] {
				t.Fatalf("agent answered %q (%v)", sc.Bytes(), err)
			}
			if rep.Type == typeError && rep.Error == nil {
				t.Fatalf("error reply without an error: %q", sc.Bytes())
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("reading the agent's replies: %v", err)
		}
		h.card.mu.Lock()
		for _, hash := range h.card.hashes {
			if hash != crypto.SHA256 && hash != crypto.SHA384 && hash != crypto.SHA512 {
				t.Errorf("the card signed a %v digest", hash)
			}
		}
		h.card.hashes = h.card.hashes[:0]
		h.card.mu.Unlock()
		c, err := DialPath(t.Context(), h.path, nil)
		if err == nil {
			_, err = c.Status(t.Context())
			_ = c.Close()
		}
		if err != nil {
			t.Fatalf("the agent stopped serving: %v", err)
		}
	})
}

// b64 is the base64 of n zero bytes, a digest in a JSON request.
func b64(n int) string {
	b, _ := json.Marshal(bytes.Repeat([]byte{0}, n))
	return string(b[1 : len(b)-1])
}
