package agent

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/signer/purpose"
)

// ErrNoAgent means no agent is listening: no socket, or a stale one nobody serves. Commands take it
// as the cue to use the card directly.
var ErrNoAgent = errors.New("no pivauth agent is running")

// ErrAgentGone means the agent closed the connection in the middle of a request: it was stopped or
// restarted. The request may or may not have reached the card.
var ErrAgentGone = errors.New("the pivauth agent went away during the request (stopped or restarted); run the command again")

// ErrCannotPrompt is wrapped by a Prompter's error when it has no way to ask for the PIN (no
// terminal, no PIN file): the agent then tries its own fallback source (pinentry) instead of
// failing the operation as it does when a person dismissed the prompt.
var ErrCannotPrompt = errors.New("cannot ask for the PIN here")

// Prompter is the requesting command's side of the agent's questions.
type Prompter interface {
	// PIN asks the user for the PIN of the card and slot in req. The agent takes (and wipes)
	// the returned bytes. An error cancels the operation; see ErrCannotPrompt.
	PIN(ctx context.Context, req PINRequest) ([]byte, error)
	// Touch tells the user to touch the card.
	Touch()
}

// Typist is implemented by a Prompter that knows whether a person typed the PIN it gave last (a
// terminal, pinentry) rather than a file or the environment supplying it: the agent then asks
// again, in the same operation, when the card refuses it.
type Typist interface {
	AsksPerson() bool
}

// Client is a connection to the agent. Its methods are safe for concurrent use; requests are sent
// one at a time.
type Client struct {
	mu       sync.Mutex
	nc       *net.UnixConn
	r        *lineReader
	prompter Prompter
	pid      int
	// remoteErr turns the agent's error replies into the caller's errors (SetRemoteErrors).
	remoteErr func(*RemoteError) error
}

// Dial connects to the agent at SocketPath. See DialPath.
func Dial(ctx context.Context, p Prompter) (*Client, error) {
	return DialPath(ctx, SocketPath(), p)
}

// DialPath connects to the agent at path. It returns ErrNoAgent (at once) when nobody listens
// there, and refuses a socket directory or socket that is not the user's own (privfs.ErrNotPrivate),
// or an agent running as another user. Where no agent can run (see ErrUnsupported) it returns
// ErrNoAgent. p answers the agent's PIN prompts and touch notices; nil means the command cannot
// prompt (the agent then uses its fallback PIN source or fails).
func DialPath(ctx context.Context, path string, p Prompter) (*Client, error) {
	if !supported {
		return nil, ErrNoAgent
	}
	if err := privfs.CheckDir(filepath.Dir(path)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoAgent
		}
		return nil, fmt.Errorf("agent socket directory: %w", err)
	}
	if err := privfs.CheckFile(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoAgent
		}
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoAgent // a stale socket: the agent died without removing it
		}
		return nil, fmt.Errorf("connect to the pivauth agent: %w", err)
	}
	uc := nc.(*net.UnixConn)
	cred, err := peerCred(uc)
	if err == nil && int(cred.Uid) != os.Geteuid() {
		err = fmt.Errorf("the agent socket %s is served by uid %d, not by you: %w", path, cred.Uid, privfs.ErrNotPrivate)
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c := &Client{nc: uc, r: newLineReader(uc), prompter: p}
	rep, err := c.roundTrip(ctx, request{Op: opHello, Version: protocolVersion, CanPrompt: p != nil})
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c.pid = rep.PID
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// SetRemoteErrors has the client return f(re) for each error reply re instead of re itself, so
// that a caller that knows the card layers (the agent imports none of them) gets errors that match
// theirs, such as card.FromAgent's. f's error should wrap re, which the exit codes are read from.
func (c *Client) SetRemoteErrors(f func(*RemoteError) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remoteErr = f
}

// PID returns the agent's process id.
func (c *Client) PID() int { return c.pid }

// roundTrip sends req and reads replies until the final one, answering PIN prompts and relaying
// touch notices on the way.
func (c *Client) roundTrip(ctx context.Context, req request) (reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A canceled ctx (Ctrl-C) unblocks the read; the agent sees the connection close.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	line, err := encodeLine(req)
	if err == nil {
		_, err = c.nc.Write(line)
	}
	var promptErr error // the prompter failed: the agent's reply is "canceled", this says why
	for err == nil {
		var rep reply
		if err = c.r.decode(&rep); err != nil {
			break
		}
		switch rep.Type {
		case typeOK:
			return rep, nil
		case typeError:
			if rep.Error == nil {
				return reply{}, errors.New("agent protocol: error reply without an error")
			}
			if promptErr != nil {
				return reply{}, promptErr
			}
			if c.remoteErr != nil {
				return reply{}, c.remoteErr(rep.Error)
			}
			return reply{}, rep.Error
		case typeTouch:
			if c.prompter != nil {
				c.prompter.Touch()
			}
		case typePINPrompt:
			promptErr, err = c.answerPIN(ctx, rep.Prompt)
		default:
			err = fmt.Errorf("agent protocol: unexpected reply %q", rep.Type)
		}
	}
	if ctx.Err() != nil {
		return reply{}, ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return reply{}, ErrAgentGone
	}
	return reply{}, fmt.Errorf("pivauth agent: %w", err)
}

// answerPIN asks the prompter and sends the PIN back, or a cancel when the prompter fails (its
// error is returned as promptErr, to be reported once the agent has answered the request).
func (c *Client) answerPIN(ctx context.Context, req *PINRequest) (promptErr, err error) {
	if req == nil {
		return nil, errors.New("agent protocol: PIN prompt without a request")
	}
	var pin []byte
	if c.prompter == nil {
		promptErr = ErrNeedPIN
	} else if pin, promptErr = c.prompter.PIN(ctx, *req); promptErr == nil && len(pin) == 0 {
		promptErr = errors.New("no PIN entered")
	}
	if promptErr != nil {
		line, _ := encodeLine(request{Op: opCancel, Unavailable: errors.Is(promptErr, ErrCannotPrompt) || errors.Is(promptErr, ErrNeedPIN)})
		_, err = c.nc.Write(line)
		return promptErr, err
	}
	t, ok := c.prompter.(Typist)
	line := pinLine(pin, ok && t.AsksPerson())
	pinbuf.Wipe(pin)
	_, err = c.nc.Write(line)
	pinbuf.Wipe(line)
	return nil, err
}

// Status returns the agent's state.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	rep, err := c.roundTrip(ctx, request{Op: opStatus})
	if err != nil {
		return nil, err
	}
	if rep.Status == nil {
		return nil, errors.New("agent protocol: status reply without a status")
	}
	return rep.Status, nil
}

// Lock makes the agent forget every PIN, card session and token.
func (c *Client) Lock(ctx context.Context) error {
	_, err := c.roundTrip(ctx, request{Op: opLock})
	return err
}

// Forget makes the agent close its sessions of slot ("" for every slot) on a card (card as
// KeyInfo.Card names it, or "" to name the card by its reader), because the slot's key or
// certificate changes: the next operation opens the slot again. It returns the number of sessions closed.
func (c *Client) Forget(ctx context.Context, card, reader, slot string) (int, error) {
	rep, err := c.roundTrip(ctx, request{Op: opForget, Card: card, Key: &KeyRef{Reader: reader, Slot: slot}})
	return rep.Dropped, err
}

// Token returns the token cached for profile, or nil when the agent holds none (or it expired).
func (c *Client) Token(ctx context.Context, profile string) (*Token, error) {
	rep, err := c.roundTrip(ctx, request{Op: opTokenGet, Profile: profile})
	if err != nil {
		return nil, err
	}
	return rep.Token, nil
}

// PutToken stores t for profile in the agent's memory until it expires or the agent locks.
func (c *Client) PutToken(ctx context.Context, profile string, t Token) error {
	_, err := c.roundTrip(ctx, request{Op: opTokenPut, Profile: profile, Token: &t})
	return err
}

// Key opens the key ref names in the agent (which may ask for the PIN) and returns it as a
// crypto.Signer whose operations the agent performs.
func (c *Client) Key(ctx context.Context, ref KeyRef) (*RemoteKey, error) {
	rep, err := c.roundTrip(ctx, request{Op: opKey, Key: &ref})
	if err != nil {
		return nil, err
	}
	if rep.KeyInfo == nil || len(rep.KeyInfo.Certificates) == 0 {
		return nil, errors.New("agent protocol: key reply without a certificate")
	}
	k := &RemoteKey{c: c, info: *rep.KeyInfo}
	for _, der := range rep.KeyInfo.Certificates {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("agent sent an unreadable certificate: %w", err)
		}
		k.certs = append(k.certs, cert)
	}
	return k, nil
}

// RemoteKey is a key held by the agent: a crypto.Signer (and purpose.ContextSigner) whose
// signatures the agent makes on the card.
type RemoteKey struct {
	c     *Client
	info  KeyInfo
	certs []*x509.Certificate
}

// Public returns the public key of the key's certificate.
func (k *RemoteKey) Public() crypto.PublicKey { return k.certs[0].PublicKey }

// Certificate returns the key's certificate.
func (k *RemoteKey) Certificate() *x509.Certificate { return k.certs[0] }

// Chain returns the key's certificate followed by its intermediates, as signer.Signer.Chain does.
func (k *RemoteKey) Chain() []*x509.Certificate { return append([]*x509.Certificate(nil), k.certs...) }

// Info describes the key: card identity, reader and slot.
func (k *RemoteKey) Info() KeyInfo { return k.info }

// Reader returns the reader the card was in when the agent opened the key.
func (k *RemoteKey) Reader() string { return k.info.Reader }

// Sign signs digest without a context; prefer SignContext (or purpose.Bind), which carries the
// purpose into the agent's audit record.
func (k *RemoteKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), rand, digest, opts)
}

// SignContext asks the agent to sign digest with the purpose carried by ctx (purpose.With).
// rand is not used: the card (or the agent) supplies the randomness.
func (k *RemoteKey) SignContext(ctx context.Context, _ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	req := request{Op: opSign, Key: &k.info.Ref, Digest: digest, Purpose: purpose.From(ctx)}
	if opts != nil {
		req.Hash = opts.HashFunc()
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		salt := pss.SaltLength
		req.PSSSalt = &salt
	}
	rep, err := k.c.roundTrip(ctx, req)
	if err != nil {
		return nil, err
	}
	return rep.Sig, nil
}
