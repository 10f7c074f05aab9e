// Package rsapad builds and checks RSA encodings on the host, around a raw
// RSA private-key operation done somewhere else — a PIV card's GENERAL
// AUTHENTICATE, which computes m^d mod n and nothing more.
//
// Signatures: EMSA-PKCS1-v1_5 (with the DigestInfo prefix of every hash Go's
// crypto/rsa knows, or none for crypto.Hash(0)) and EMSA-PSS (RFC 8017 9.1).
// Decryption: EME-PKCS1-v1_5 and EME-OAEP decoding, both in constant time
// and failing with rsa.ErrDecryption alone, so a caller cannot become a
// padding oracle.
//
// Every output is k bytes long (k = the modulus length in bytes), ready to be
// the input of the raw operation.
package rsapad
