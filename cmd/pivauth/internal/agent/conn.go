package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/pinbuf"
)

// conn is one client connection on the agent side.
type conn struct {
	nc        *net.UnixConn
	r         *lineReader
	wmu       sync.Mutex // a touch notice may be sent from the signer's goroutine
	requester audit.Requester
	canPrompt bool // set by hello
}

// send writes one reply line.
func (c *conn) send(rep reply) error {
	line, err := encodeLine(rep)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.nc.Write(line)
	return err
}

// askPIN sends a PIN prompt and waits up to timeout for the client's answer. A client that
// disconnects or does not answer in time fails the operation, never the agent; so does the end of
// ctx (the agent locks), at once. An answer that arrives after that is read and dropped by
// serveConn. typed reports that a person typed the PIN (request.Typed).
func (c *conn) askPIN(ctx context.Context, req PINRequest, timeout time.Duration) (pin []byte, typed bool, err error) {
	if err := c.send(reply{Type: typePINPrompt, Prompt: &req}); err != nil {
		return nil, false, fmt.Errorf("asking the requesting command for the PIN: %w", err)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			_ = c.nc.SetReadDeadline(time.Unix(1, 0)) // the AfterFunc ran; nothing of it may stay
		}
		_ = c.nc.SetReadDeadline(time.Time{})
	}()
	var ans request
	if err := c.r.decode(&ans); err != nil {
		if ctx.Err() != nil {
			return nil, false, context.Cause(ctx)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, false, fmt.Errorf("no PIN from the requesting command within %s: %w", timeout, context.DeadlineExceeded)
		}
		return nil, false, fmt.Errorf("the requesting command went away during the PIN prompt: %w", err)
	}
	switch ans.Op {
	case opPIN:
		return ans.PIN, ans.Typed, nil
	case opCancel:
		if ans.Unavailable {
			return nil, false, errClientCannotPrompt
		}
		return nil, false, errPromptCanceled
	}
	return nil, false, fmt.Errorf("agent protocol: %q in answer to a PIN prompt", ans.Op)
}

// serveConn checks the peer and serves its requests until it disconnects or the agent stops.
func (s *Server) serveConn(ctx context.Context, nc *net.UnixConn) {
	defer nc.Close()
	c := &conn{nc: nc, r: newLineReader(nc)}
	s.conns.Store(c, struct{}{})
	defer s.conns.Delete(c)
	if ctx.Err() != nil {
		return // Serve's shutdown may have closed the others before this one was stored
	}

	cred, err := peerCred(nc)
	if err != nil {
		s.log.Warn("refused a connection without peer credentials", "error", err)
		_ = c.send(errorReply(audit.ResultRefused, fmt.Errorf("%w: %v", ErrRefused, err)))
		return
	}
	c.requester = audit.Requester{PID: int(cred.Pid), UID: int(cred.Uid), Command: commandName(cred.Pid), Executable: executable(cred.Pid)}
	if uid := os.Geteuid(); int(cred.Uid) != uid {
		s.refuse(c, uid)
		return
	}
	if n := s.nconns.Add(1); int(n) > s.cfg.MaxConns {
		s.nconns.Add(-1)
		s.log.Warn("refused a connection: too many", "limit", s.cfg.MaxConns, "pid", cred.Pid, "executable", c.requester.Executable)
		var hello request // read first: a socket closed with unread data may reset before the client reads the refusal
		_ = s.readRequest(c, &hello, true)
		_ = c.send(errorReply(audit.ResultRefused, fmt.Errorf("%w: too many connections (%d); close some pivauth commands", ErrRefused, s.cfg.MaxConns)))
		return
	}
	defer s.nconns.Add(-1)

	for first := true; ; first = false {
		var req request
		if err := s.readRequest(c, &req, first); err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log.Debug("client connection ended", "pid", cred.Pid, "error", err)
			}
			return
		}
		if req.Op == opPIN || req.Op == opCancel {
			// The answer to a prompt the agent gave up on (it locked): nobody waits for it.
			pinbuf.Wipe(req.PIN)
			continue
		}
		rep := s.handle(ctx, c, req)
		if err := c.send(rep); err != nil {
			s.log.Debug("client went away before its reply", "pid", cred.Pid, "op", req.Op, "error", err)
			return
		}
	}
}

// readRequest reads the next request of c. The hello (first) must arrive within ReadTimeout of the
// connection; later a client may stay idle between requests (a long-running command keeps its
// key), but once a request has begun, its line must be complete within ReadTimeout, so a client
// that stalls mid-line cannot hold a connection.
func (s *Server) readRequest(c *conn, req *request, first bool) error {
	if first {
		_ = c.nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
		if _, err := c.r.r.Peek(1); err != nil {
			return err
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	}
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	return c.r.decode(req)
}

// refuse answers a connection from another user with an error, and records the attempt.
func (s *Server) refuse(c *conn, uid int) {
	s.log.Warn("refused a connection from another user", "uid", c.requester.UID, "pid", c.requester.PID, "command", c.requester.Command)
	if s.cfg.Audit != nil {
		r := c.requester
		if err := s.cfg.Audit.Record(audit.Event{Operation: audit.OpAgentConnect, Requester: &r, Result: audit.ResultRefused}); err != nil {
			s.log.Error("audit log", "error", err)
		}
	}
	_ = c.send(errorReply(audit.ResultRefused, fmt.Errorf("%w: this agent serves uid %d only; start your own with `pivauth agent`", ErrRefused, uid)))
}
