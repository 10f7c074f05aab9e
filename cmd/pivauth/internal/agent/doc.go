// Package agent is pivauth's PIN-once session: a long-running process (`pivauth agent`) that holds
// the card sessions and the PIN of each card for the working session and serves signatures and a
// token cache to the other pivauth invocations of the same user over a unix socket.
//
// # Protocol
//
// JSON lines over $XDG_RUNTIME_DIR/pivauth/agent.sock (SocketPath). The client sends a request
// line; the agent answers with one final reply line (ok or error), possibly preceded by a PIN prompt
// (which the client answers with the PIN or a cancel, asking its own user on its own terminal) and
// by touch notices (which the client prints). A connection starts with a hello that checks the
// protocol version. Client assertions are built by the requesting command with a RemoteKey (a
// crypto.Signer whose signatures the agent makes), so the agent needs no knowledge of identity
// providers; tokens the command obtained are handed back to the agent and kept in its memory per
// profile until they expire or the agent locks.
//
// # Security
//
// The socket's directory is the user's own with mode 0700 and the socket 0600; Listen and DialPath
// refuse anything else. Every connection's peer is identified by SO_PEERCRED: a process of another
// user is answered with an error and recorded in the audit log, and the requester of every
// operation is named there by its executable (/proc/PID/exe); the purpose a client sends is
// recorded as declared by it, since the agent cannot check it. Token reads and stores are recorded
// too. The card is never left verified between operations (package signer verifies and clears the
// PIN inside each operation's card transaction); the PIN lives in the agent's memory, which
// HardenProcess keeps out of core dumps and away from ptrace and /proc/PID/mem.
//
// The agent signs only what pivauth asks for (SHA-256/384/512 with RSA or ECDSA, Ed25519) unless
// Config.AllowLegacySignatures; it bounds the connections it serves (Config.MaxConns), the time a
// request line may take once begun (Config.ReadTimeout) and the tokens it caches
// (Config.MaxTokens).
//
// # Locking
//
// The agent forgets every PIN, closes every card session and drops its tokens (Server.Lock) when a
// card is removed (Monitor, and a check before each use), after IdleTimeout without a card
// operation, on `pivauth agent lock`, and on SIGHUP, at once: an operation waiting for a client's
// PIN is abandoned (and the PIN that arrives later dropped). The next operation asks for the PIN
// again. A key the card no longer holds (re-keyed by another tool) is refused with class
// key-changed and its session closed; `pivauth setup` closes the card's sessions itself (forget)
// before it changes a slot. Status says which keys hold a PIN: locked means none does.
//
// # Robustness
//
// Clients are served concurrently; card operations one at a time. A client that disconnects or
// stops answering during its operation fails that operation only. A stale socket (the agent died)
// is replaced by the next agent under a lock file, and clients see ErrNoAgent for it, so commands
// fall back to the card; a client whose agent goes away mid-request gets ErrAgentGone.
package agent
