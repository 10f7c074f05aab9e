// Package mtls makes HTTPS clients whose TLS client certificate is a key that never leaves its
// card (or any crypto.Signer): TLS 1.2 and 1.3, RSA (PKCS #1 v1.5 and PSS), ECDSA and Ed25519.
//
// Every handshake takes its certificate from one place, the Identity given to NewTransport, and
// every signature is checked against the certificate before it is sent: when the card in the
// reader no longer holds the certificate's key, the transport fails closed (ErrKeyChanged) and
// stops resuming sessions made with the old key.
//
// A tls.ClientSessionCache, keyed by the identity, lets repeat connections to a server resume
// their TLS session (TLS 1.3 tickets, TLS 1.2 tickets) without a card signature, so N sequential
// requests to one host cost one signature. Go's TLS client does not resume TLS 1.2 sessions by
// session id, only by ticket.
//
// TLS failures come back as *HandshakeError naming the server and what it asked for: the CA names
// of its certificate request when ours was issued by none of them.
//
// A handshake signature is made in the context of the request that started the connection, with
// the server's name added to its audit purpose: a signer that records its operations (pivauth's
// card signer and agent key) logs it as a TLS handshake with that server.
package mtls
