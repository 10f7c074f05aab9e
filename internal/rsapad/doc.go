// Package rsapad builds and checks RSA encodings on the host, around a raw
// RSA private-key operation done somewhere else — a PIV card's GENERAL
// AUTHENTICATE, which computes m^d mod n and nothing more.
//
// Signatures: EMSA-PKCS1-v1_5 (with the DigestInfo prefix of every hash Go's
// crypto/rsa knows, or none for crypto.Hash(0)) and EMSA-PSS (RFC 8017 9.1).
// Decryption: EME-PKCS1-v1_5 and EME-OAEP decoding.
//
// The decoders check the padding in constant time and fail with
// rsa.ErrDecryption alone, whichever check failed: they do not say where the
// block went wrong. That does not make a decryption service safe. Whether a
// decryption succeeds at all tells its caller whether the PKCS #1 v1.5
// padding was valid — the oracle of Bleichenbacher's attack, which decrypts
// any ciphertext, and forges any signature, of that key with enough queries.
// Only DecodePKCS1v15SessionKey (the countermeasure of
// rsa.DecryptPKCS1v15SessionKey: a random key on failure, no error) and OAEP
// leave the caller nothing to learn, and even those only when the caller keeps
// what it does with the result from showing. So a key that signs must not
// decrypt for others: package signer decrypts with the key management slots
// only unless told otherwise.
//
// Every encoder's output is k bytes long (k = the modulus length in bytes),
// ready to be the input of the raw operation.
package rsapad
