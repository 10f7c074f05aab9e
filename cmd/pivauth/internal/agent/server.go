package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/signer/purpose"
)

// ErrNeedPIN is returned when a card needs the PIN and neither the requesting client nor a
// fallback PIN source can supply it.
var ErrNeedPIN = errors.New("the card needs its PIN and there is no one to ask: run the pivauth command " +
	"on a terminal (or with --pin-file), or start the agent with --pinentry")

// errPromptCanceled is the client declining a PIN prompt (Ctrl-C, an empty answer).
var errPromptCanceled = fmt.Errorf("PIN prompt canceled by the requesting command: %w", context.Canceled)

// errClientCannotPrompt is the client answering a PIN prompt with "no way to ask here".
var errClientCannotPrompt = errors.New("the requesting command cannot ask for the PIN")

// DefaultPromptTimeout is how long the agent waits for a client to answer a PIN prompt before it
// gives up and serves the next client.
const DefaultPromptTimeout = 2 * time.Minute

// Defaults of the limits on clients (Config).
const (
	DefaultReadTimeout = 10 * time.Second
	DefaultMaxConns    = 64
	DefaultMaxTokens   = 64
)

// errLocked is the cause of an operation abandoned because the agent locked while it ran.
var errLocked = errors.New("the pivauth agent locked during the request")

// Config configures a Server.
type Config struct {
	Backend Backend
	// Monitor watches for card removal; nil leaves removal to be noticed by a failing operation.
	Monitor Monitor
	// IdleTimeout locks the agent after this long without a card operation; 0 never does.
	IdleTimeout time.Duration
	// PromptTimeout bounds a client's answer to a PIN prompt; 0 means DefaultPromptTimeout.
	PromptTimeout time.Duration
	// FallbackPIN asks for the PIN when the requesting client cannot (no terminal): pinentry.
	FallbackPIN func(ctx context.Context, req PINRequest) ([]byte, error)
	// Audit records refused connections and token reads and stores (card operations are recorded
	// by the backend's keys).
	Audit audit.Recorder
	// ReadTimeout bounds the reading of one request line once it has begun, and of the hello after
	// connecting: a client that stalls mid-line is disconnected. 0 means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxConns bounds the connections served at once; more are refused. 0 means DefaultMaxConns.
	MaxConns int
	// MaxTokens bounds the profiles whose tokens are cached; storing one more drops the expired ones,
	// then the one that expires first. 0 means DefaultMaxTokens.
	MaxTokens int
	// AllowLegacySignatures lets clients ask for signatures pivauth itself never makes: MD5, SHA-1,
	// SHA-224 and raw (hash 0) RSA or ECDSA. Off, only SHA-256/384/512 and Ed25519 are signed, so that
	// a process of the user cannot have the card sign for another protocol (checkSignatureKind).
	AllowLegacySignatures bool
	// Log receives the agent's own messages (never a PIN or token); nil discards them.
	Log *slog.Logger
}

// Server is the agent: it holds the open keys (card sessions, each with the PIN its signer keeps
// for the session), serves one card operation at a time to the clients of its own user, and
// closes every key, forgetting the PINs, when it locks.
type Server struct {
	cfg Config
	log *slog.Logger

	op       sync.Mutex // one card operation at a time; guards keys and idle
	keys     map[KeyRef]*openKey
	idle     *time.Timer
	idleAt   atomic.Int64         // UnixNano when the agent locks if left idle; 0: no deadline
	current  atomic.Pointer[conn] // the client the running operation is for (PIN prompt, touch)
	pinGiven bool                 // the running operation handed its key a PIN; guarded by op
	pinTyped bool                 // a person typed the PIN last handed (Hooks.PINTyped); guarded by op

	// A lock acts at once, without waiting for op: it cancels the running operation (opCancel, under
	// opMu) and, while locking > 0, operations that get op first are turned away.
	opMu     sync.Mutex
	opCancel context.CancelCauseFunc
	locking  atomic.Int32

	nconns atomic.Int32 // connections being served

	tokMu  sync.Mutex
	tokens map[string]Token // by profile

	conns   sync.Map // *conn -> struct{}: closed on shutdown
	handles sync.WaitGroup
}

// openKey is a key the agent has open, with the reader epoch it was opened in.
type openKey struct {
	key       Key
	info      KeyInfo
	epoch     uint64
	stopWatch context.CancelFunc
	// pinHeld: a PIN was handed to the key's session (which keeps it until the card refuses it, and
	// then the agent closes the key).
	pinHeld bool
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	if cfg.PromptTimeout <= 0 {
		cfg.PromptTimeout = DefaultPromptTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, keys: map[KeyRef]*openKey{}, tokens: map[string]Token{}}
}

// Serve accepts connections on l until ctx ends, then closes every connection, locks (wiping the
// PINs and tokens) and returns nil. Clients are served concurrently; their card operations in turn.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = l.Close()
		s.conns.Range(func(c, _ any) bool { _ = c.(*conn).nc.Close(); return true })
	}()
	var err error
	for {
		var nc net.Conn
		nc, err = l.Accept()
		if err != nil {
			break
		}
		uc, ok := nc.(*net.UnixConn)
		if !ok {
			_ = nc.Close()
			continue
		}
		s.handles.Add(1)
		go func() {
			defer s.handles.Done()
			s.serveConn(ctx, uc)
		}()
	}
	cancel()
	s.handles.Wait()
	s.Lock("agent stopping")
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("agent: accept: %w", err)
}

// Lock closes every key (the card sessions go, and with them the PINs their signers held) and drops
// the cached tokens. The next operation asks for the PIN again. reason goes to the log. It acts at
// once: an operation in progress (waiting for a client's PIN, or for a touch) is abandoned.
func (s *Server) Lock(reason string) { s.lockIf(reason, nil) }

// lockIf locks, as Lock does, unless still (checked with s.op held) says the reason is gone.
func (s *Server) lockIf(reason string, still func() bool) {
	s.preempt(reason, func() {
		if still == nil || still() {
			s.lockLocked(reason)
		}
	})
}

// preempt runs fn with s.op held, without waiting for the operation in progress: that one is
// abandoned (its context canceled, with errLocked and reason as the cause, which ends a pending
// PIN prompt), and operations that get s.op before fn are turned away.
func (s *Server) preempt(reason string, fn func()) {
	s.locking.Add(1)
	defer s.locking.Add(-1)
	s.opMu.Lock()
	if s.opCancel != nil {
		s.opCancel(fmt.Errorf("%w (%s): run the command again", errLocked, reason))
	}
	s.opMu.Unlock()
	s.op.Lock()
	defer s.op.Unlock()
	fn()
}

// lockLocked is Lock with s.op held.
func (s *Server) lockLocked(reason string) {
	had := len(s.keys) > 0
	for ref, k := range s.keys {
		k.close()
		delete(s.keys, ref)
	}
	if s.idle != nil {
		s.idle.Stop()
		s.idleAt.Store(0)
	}
	s.tokMu.Lock()
	had = had || len(s.tokens) > 0
	for p, t := range s.tokens {
		pinbuf.Wipe(t.Data)
		delete(s.tokens, p)
	}
	s.tokMu.Unlock()
	if had {
		s.log.Info("locked: PIN, card sessions and tokens forgotten", "reason", reason)
	}
}

// forgetCard closes the keys of card after it refused a PIN: whatever PIN their signers held is
// gone, and the next operation asks afresh. s.op is held.
func (s *Server) forgetCard(card string) {
	s.closeKeysWhere(func(_ KeyRef, k *openKey) bool { return k.info.Card == card })
}

// closeKeysWhere closes the open keys match selects and returns how many; s.op is held.
func (s *Server) closeKeysWhere(match func(KeyRef, *openKey) bool) int {
	n := 0
	for ref, k := range s.keys {
		if match(ref, k) {
			k.close()
			delete(s.keys, ref)
			n++
		}
	}
	return n
}

// forget closes the sessions of slot ("" for every slot) on card (a card name as KeyInfo.Card has
// it; "" for a card without a name, which is then matched by its reader), because `pivauth setup`
// changes that slot's key or certificate: the session would be refused (ErrKeyChanged) or sign
// for the old certificate, and its card connection keeps the YubiKey management interface, which
// needs the card to itself, from working. The next operation on the slot opens it again.
func (s *Server) forget(card, reader, slot string) int {
	var n int
	s.preempt("the card's keys are being changed", func() {
		n = s.closeKeysWhere(func(ref KeyRef, k *openKey) bool {
			if slot != "" && ref.Slot != slot {
				return false
			}
			if card != "" {
				return k.info.Card == card
			}
			return k.info.Reader == reader
		})
	})
	if n > 0 {
		s.log.Info("closed the session of a slot that was changed", "card", card, "reader", reader, "slot", slot)
	}
	return n
}

func (k *openKey) close() {
	if k.stopWatch != nil {
		k.stopWatch()
	}
	_ = k.key.Close()
}

// resetIdle restarts the idle countdown at the start and the end of an operation (so that an
// operation left waiting for a PIN longer than the timeout locks too); s.op is held.
func (s *Server) resetIdle() {
	if s.cfg.IdleTimeout <= 0 {
		return
	}
	s.idleAt.Store(time.Now().Add(s.cfg.IdleTimeout).UnixNano())
	if s.idle == nil {
		s.idle = time.AfterFunc(s.cfg.IdleTimeout, s.idleExpired)
		return
	}
	s.idle.Reset(s.cfg.IdleTimeout)
}

// idleDue reports whether the idle deadline has passed.
func (s *Server) idleDue() bool {
	at := s.idleAt.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// idleExpired locks unless an operation moved the deadline while the timer fired.
func (s *Server) idleExpired() {
	if s.idleDue() {
		s.lockIf(fmt.Sprintf("idle for %s", s.cfg.IdleTimeout), s.idleDue)
	}
}

// key returns the open key for ref, opening it (and starting its removal watch) if needed. A key
// whose reader saw a removal since it was opened is not reused: the agent locks first, so a
// reinserted card asks for the PIN again. s.op is held.
func (s *Server) key(ctx context.Context, ref KeyRef) (*openKey, error) {
	if k := s.keys[ref]; k != nil {
		if !s.removedSince(k) {
			return k, nil
		}
		s.lockLocked("card removed from " + k.info.Reader)
	}
	key, err := s.cfg.Backend.Open(ctx, ref, Hooks{PIN: s.pin, PINTyped: s.pinTypedLast, Touch: s.touch})
	if err != nil {
		return nil, err
	}
	k := &openKey{key: key, info: key.Info()}
	k.info.Ref = ref
	if m := s.cfg.Monitor; m != nil && k.info.Reader != "" {
		if k.epoch, err = m.Epoch(k.info.Reader); err != nil {
			_ = key.Close()
			return nil, fmt.Errorf("watch reader %q for removal: %w", k.info.Reader, err)
		}
		var wctx context.Context
		wctx, k.stopWatch = context.WithCancel(context.Background())
		go s.watch(wctx, k)
	}
	s.keys[ref] = k
	return k, nil
}

// removedSince reports whether k's reader saw a removal or insertion since k was opened; s.op is
// held. This check closes the gap between a pull-and-reinsert and the watcher noticing it.
func (s *Server) removedSince(k *openKey) bool {
	if s.cfg.Monitor == nil || k.info.Reader == "" {
		return false
	}
	e, err := s.cfg.Monitor.Epoch(k.info.Reader)
	return err != nil || e != k.epoch
}

// watch locks the agent as soon as k's card leaves its reader.
func (s *Server) watch(ctx context.Context, k *openKey) {
	err := s.cfg.Monitor.Wait(ctx, k.info.Reader, k.epoch)
	if ctx.Err() != nil {
		return // the key was closed
	}
	if err != nil {
		s.log.Warn("cannot watch the reader any more; locking", "reader", k.info.Reader, "error", err)
	}
	s.lockIf("card removed from "+k.info.Reader, func() bool { return s.keys[k.info.Ref] == k })
}

// pin is Hooks.PIN: it asks the requesting client, or the fallback source when the client cannot
// prompt (none attached, or none it can reach). The key's signer keeps the PIN for its session; the agent holds no copy. It runs inside
// an operation (s.op held).
func (s *Server) pin(ctx context.Context, req PINRequest) ([]byte, error) {
	pin, typed, err := s.askPIN(ctx, req)
	// A key asks only when it holds no PIN (the first time, or after the card refused one): when
	// nobody answers, it holds none, whatever an earlier prompt of this operation gave it.
	s.pinGiven, s.pinTyped = err == nil, err == nil && typed
	return pin, err
}

// pinTypedLast is Hooks.PINTyped.
func (s *Server) pinTypedLast() bool { return s.pinTyped }

// askPIN asks the requesting client for the PIN, or the fallback source (pinentry, where a person
// types it).
func (s *Server) askPIN(ctx context.Context, req PINRequest) (pin []byte, typed bool, err error) {
	if c := s.current.Load(); c != nil && c.canPrompt {
		pin, typed, err := c.askPIN(ctx, req, s.cfg.PromptTimeout)
		if !errors.Is(err, errClientCannotPrompt) {
			return pin, typed, err
		}
	}
	if s.cfg.FallbackPIN != nil {
		pin, err := s.cfg.FallbackPIN(ctx, req)
		return pin, true, err
	}
	return nil, false, ErrNeedPIN
}

// touch is Hooks.Touch: the requesting client prints the notice.
func (s *Server) touch() {
	if c := s.current.Load(); c != nil {
		_ = c.send(reply{Type: typeTouch})
	}
}

// classify names the class of an operation's error.
func (s *Server) classify(err error) string {
	switch {
	case errors.Is(err, ErrNeedPIN):
		return audit.ResultNoPIN
	case errors.Is(err, errPromptCanceled):
		return audit.ResultCanceled
	}
	return s.cfg.Backend.Classify(err)
}

// cardOp runs fn as the one card operation in progress, for client c, and handles what its error
// means for the session: a wrong PIN forgets the card's PIN, a removed card locks.
func (s *Server) cardOp(ctx context.Context, c *conn, ref KeyRef, fn func(ctx context.Context, k *openKey) (reply, error)) reply {
	s.op.Lock()
	defer s.op.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.opMu.Lock()
	s.opCancel = cancel
	s.opMu.Unlock()
	defer func() {
		s.opMu.Lock()
		s.opCancel = nil
		s.opMu.Unlock()
	}()
	if s.locking.Load() > 0 { // a lock came first: it waits for op, and this operation must not use a PIN
		return errorReply(audit.ResultCanceled, fmt.Errorf("%w: run the command again", errLocked))
	}
	s.current.Store(c)
	defer s.current.Store(nil)
	s.resetIdle()
	defer s.resetIdle()
	s.pinGiven = false

	k, err := s.key(ctx, ref)
	var rep reply
	if err == nil {
		rep, err = fn(ctx, k)
		if s.pinGiven {
			k.pinHeld = true
		}
	}
	if err == nil {
		return rep
	}
	if cause := context.Cause(ctx); errors.Is(cause, errLocked) {
		err = cause // the operation failed because the agent locked: say so
	}
	class := s.classify(err)
	switch class {
	case audit.ResultCardRemoved:
		s.lockLocked("card removed")
	case audit.ResultPINIncorrect, audit.ResultPINBlocked, audit.ResultPINLastTry:
		if k != nil {
			s.forgetCard(k.info.Card)
		}
	case audit.ResultKeyChanged:
		// Refused, as on the direct path; the session goes, so that the next request opens the
		// slot's new key (asking for the PIN again) instead of failing until the agent locks.
		if k != nil && s.keys[ref] == k {
			k.close()
			delete(s.keys, ref)
			s.log.Info("closed a session whose key changed on the card", "key", ref.String(), "card", k.info.Card)
		}
	}
	return errorReply(class, err)
}

// errorReply answers with err's class and text and, for a refused PIN, the tries left (which
// the card layers report through a TriesLeft method) so that the client need not read them from
// the text.
func errorReply(class string, err error) reply {
	re := &RemoteError{Class: class, Message: err.Error()}
	var tries interface{ TriesLeft() int }
	if class == audit.ResultPINIncorrect && errors.As(err, &tries) {
		re.Retries = tries.TriesLeft()
	}
	return reply{Type: typeError, Error: re}
}

// signerOpts rebuilds the crypto.SignerOpts a client's key was called with.
func signerOpts(req request) crypto.SignerOpts {
	if req.PSSSalt != nil {
		return &rsa.PSSOptions{SaltLength: *req.PSSSalt, Hash: req.Hash}
	}
	return req.Hash
}

// status describes the agent; s.op is held.
func (s *Server) status() *Status {
	st := &Status{PID: os.Getpid(), Locked: true, IdleTimeout: s.cfg.IdleTimeout}
	if at := s.idleAt.Load(); at != 0 {
		st.IdleLock = time.Unix(0, at)
	}
	for _, k := range s.keys {
		info := k.info
		info.Certificates = nil
		info.PINHeld = k.pinHeld
		st.Locked = st.Locked && !k.pinHeld
		st.Keys = append(st.Keys, info)
	}
	s.tokMu.Lock()
	st.Tokens = len(s.tokens)
	s.tokMu.Unlock()
	return st
}

// handle serves one request of client c.
func (s *Server) handle(ctx context.Context, c *conn, req request) reply {
	switch req.Op {
	case opHello:
		if req.Version != protocolVersion {
			return errorReply(audit.ResultError, fmt.Errorf("this pivauth agent speaks protocol %d, the command %d: "+
				"restart the agent with the same pivauth version", protocolVersion, req.Version))
		}
		c.canPrompt = req.CanPrompt
		return reply{Type: typeOK, Version: protocolVersion, PID: os.Getpid()}
	case opStatus:
		s.op.Lock()
		defer s.op.Unlock()
		return reply{Type: typeOK, Status: s.status()}
	case opLock:
		s.Lock(fmt.Sprintf("asked by pid %d (%s)", c.requester.PID, c.requester.Command))
		return reply{Type: typeOK}
	case opKey, opSign:
		if req.Key == nil {
			return errorReply(audit.ResultError, errors.New("agent protocol: request without a key"))
		}
		return s.cardOp(ctx, c, *req.Key, func(ctx context.Context, k *openKey) (reply, error) {
			if req.Op == opKey {
				return reply{Type: typeOK, KeyInfo: &k.info}, nil
			}
			if !s.cfg.AllowLegacySignatures {
				if err := checkSignatureKind(keyKind(k.key.Public()), req.Hash, req.PSSSalt != nil); err != nil {
					return reply{}, err
				}
			}
			declared := req.Purpose
			declared.ClientDeclared = true
			ctx = purpose.With(audit.WithRequester(ctx, c.requester), declared)
			sig, err := k.key.SignContext(ctx, rand.Reader, req.Digest, signerOpts(req))
			return reply{Type: typeOK, Sig: sig}, err
		})
	case opForget:
		if req.Key == nil {
			return errorReply(audit.ResultError, errors.New("agent protocol: forget without a key"))
		}
		return reply{Type: typeOK, Dropped: s.forget(req.Card, req.Key.Reader, req.Key.Slot)}
	case opTokenGet:
		tok := s.token(req.Profile)
		result := audit.ResultOK
		if tok == nil {
			result = audit.ResultNotCached
		}
		if err := s.recordToken(c, audit.OpTokenGet, req.Profile, result); err != nil {
			if tok != nil {
				pinbuf.Wipe(tok.Data)
			}
			return errorReply(audit.ResultError, fmt.Errorf("token withheld: %w", err))
		}
		return reply{Type: typeOK, Token: tok}
	case opTokenPut:
		if req.Token == nil {
			return errorReply(audit.ResultError, errors.New("agent protocol: token-put without a token"))
		}
		if err := s.recordToken(c, audit.OpTokenPut, req.Profile, audit.ResultOK); err != nil {
			pinbuf.Wipe(req.Token.Data)
			return errorReply(audit.ResultError, fmt.Errorf("token not stored: %w", err))
		}
		s.putToken(req.Profile, *req.Token)
		return reply{Type: typeOK}
	}
	return errorReply(audit.ResultError, fmt.Errorf("agent protocol: unknown operation %q", req.Op))
}

// token returns the unexpired token cached for profile, or nil.
func (s *Server) token(profile string) *Token {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	t, ok := s.tokens[profile]
	if !ok {
		return nil
	}
	if !time.Now().Before(t.Expires) {
		pinbuf.Wipe(t.Data)
		delete(s.tokens, profile)
		return nil
	}
	t.Data = bytes.Clone(t.Data) // a Lock may wipe the cached bytes while the reply is being sent
	return &t
}

// putToken caches t for profile, replacing (and wiping) an older one. A new profile beyond
// MaxTokens makes room: the expired tokens go first, then the one that expires soonest.
func (s *Server) putToken(profile string, t Token) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if old, ok := s.tokens[profile]; ok {
		pinbuf.Wipe(old.Data)
		delete(s.tokens, profile)
	}
	now := time.Now()
	for p, old := range s.tokens {
		if len(s.tokens) < s.cfg.MaxTokens {
			break
		}
		if !now.Before(old.Expires) {
			pinbuf.Wipe(old.Data)
			delete(s.tokens, p)
		}
	}
	for len(s.tokens) >= s.cfg.MaxTokens {
		first := ""
		for p, old := range s.tokens {
			if first == "" || old.Expires.Before(s.tokens[first].Expires) {
				first = p
			}
		}
		pinbuf.Wipe(s.tokens[first].Data)
		delete(s.tokens, first)
	}
	s.tokens[profile] = t
}

// recordToken records a client's read or store of the token of profile.
func (s *Server) recordToken(c *conn, op audit.Operation, profile, result string) error {
	if s.cfg.Audit == nil {
		return nil
	}
	r := c.requester
	return s.cfg.Audit.Record(audit.Event{Operation: op, Purpose: purpose.Purpose{Profile: profile, ClientDeclared: true}, Requester: &r, Result: result})
}

// keyKind names the kind of public key pub for checkSignatureKind.
func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case *ecdsa.PublicKey:
		return "ecdsa"
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// checkSignatureKind allows the signatures pivauth itself makes (JWS PS256/RS256/ES256/ES384/
// EdDSA, TLS 1.2 and 1.3 client authentication): RSA PKCS #1 v1.5 or PSS and ECDSA over SHA-256,
// SHA-384 or SHA-512, and Ed25519. Anything else (MD5, SHA-1, SHA-224, raw RSA or ECDSA over bytes
// with no hash named) is refused: a process of the user would otherwise have the card sign for
// whatever protocol it likes, with whatever hash it can forge collisions in.
func checkSignatureKind(kind string, hash crypto.Hash, pss bool) error {
	ok := false
	switch kind {
	case "rsa", "ecdsa":
		ok = (hash == crypto.SHA256 || hash == crypto.SHA384 || hash == crypto.SHA512) && (kind == "rsa" || !pss)
	case "ed25519":
		ok = hash == 0 && !pss
	}
	if ok {
		return nil
	}
	what := hash.String()
	if hash == 0 {
		what = "raw (no hash)"
	}
	if pss {
		what += " PSS"
	}
	return fmt.Errorf("the agent does not sign %s with a %s key: pivauth never asks for it; start the agent with --allow-legacy-signatures if a program of yours needs it", what, kind)
}
