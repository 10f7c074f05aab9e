package main

import (
	"errors"

	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// remedy returns what to do about err, worded with this command line's commands, or "". The
// libraries' errors carry remedies in plain words that name no program (Remedy() string); the
// ones a pivauth command fixes are worded here as that command, the others printed as they are.
func remedy(err error) string {
	var (
		noCert *signer.NoCertificateError
		ee     *entra.Error
	)
	var puk *piv.LastTryError
	switch {
	case errors.As(err, &puk) && puk.Key == piv.KeyPUK:
		return "run again with --allow-last-try, once sure of the PUK (a blocked PUK leaves only pivauth reset)"
	case lastTry(err):
		return "run again with --allow-last-try, once sure of the PIN; or restore the tries with pivauth pin unblock"
	case errors.As(err, &noCert):
		return "put a certificate there: pivauth setup selfsign --slot " + noCert.Slot.String() +
			" (or setup csr for a CA, then setup import); or choose another --slot"
	case errors.Is(err, piv.ErrPUKBlocked):
		return "pivauth reset erases the PIV application (every key and certificate on it) and restores the factory PIN and PUK"
	case errors.Is(err, piv.ErrPINBlocked):
		return "unblock it with the PUK: pivauth pin unblock"
	case errors.Is(err, entra.ErrCertificateExpired), errors.As(err, &ee) && ee.Code == 7000274:
		return "make a new certificate on the card (pivauth setup selfsign) and upload it to the app (pivauth certs --output pem > app.pem)"
	case errors.Is(err, entra.ErrKeyNotRSA), errors.As(err, &ee) && ee.Code == 5002738:
		return "use a slot with an RSA key, or make one: pivauth setup key --algorithm rsa2048"
	case errors.As(err, &ee) && ee.Code == 700027:
		return "upload the card's certificate to the app: pivauth certs --output pem > app.pem, then add app.pem under Certificates & secrets"
	case errors.Is(err, mtls.ErrCertificateExpired):
		return "renew it (pivauth setup selfsign, or setup csr + setup import) and register the new one with the server"
	}
	var r interface{ Remedy() string }

	if errors.As(err, &r) {
		return r.Remedy()
	}
	return ""
}

// fixSuffix is remedy for a one-line message (a managed-identity error answer): "; fix: …", or "".
func fixSuffix(err error) string {
	if fix := remedy(err); fix != "" {
		return "; fix: " + fix
	}
	return ""
}
