package entra

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- Entra reports the SHA-1 thumbprint
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	docsHint      = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
)

// assertionHeader holds the JWS header fields Entra reads.
type assertionHeader struct {
	Alg     string `json:"alg"`
	X5T     string `json:"x5t"`
	X5TS256 string `json:"x5t#S256"`
}

// assertionClaims holds the claims Entra checks. aud may be a string or an array.
type assertionClaims struct {
	Aud audience     `json:"aud"`
	Iss string       `json:"iss"`
	Sub string       `json:"sub"`
	Jti string       `json:"jti"`
	Nbf *json.Number `json:"nbf"`
	Exp *json.Number `json:"exp"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// authenticateClient checks the request's client assertion in the order Entra reports problems and
// returns the authenticated app. The jti is recorded only once everything else passed.
func (s *Server) authenticateClient(r *http.Request) (*App, *aadError) {
	raw := r.PostForm.Get("client_assertion")
	if raw == "" {
		return nil, rejection("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if t := r.PostForm.Get("client_assertion_type"); t != assertionType {
		return nil, rejection("invalid_request", 9002313, "Invalid request. Request is malformed or invalid. client_assertion_type must be '%s'.", assertionType)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, malformed("the token does not have three parts")
	}
	var hdr assertionHeader
	var claims assertionClaims
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, malformed("the header is not base64url JSON")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, malformed("the payload is not base64url JSON")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, malformed("the signature is not base64url")
	}
	if hdr.Alg != "RS256" && hdr.Alg != "PS256" {
		return nil, rejection("invalid_request", 5002738, "Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256, HS256'", hdr.Alg)
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		clientID = claims.Iss
	}
	app := s.app(clientID)
	if app == nil {
		return nil, rejection("unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, r.PathValue("tenant"))
	}
	if claims.Sub != claims.Iss {
		return nil, rejection("invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion for application '%s'.", clientID)
	}
	if !strings.EqualFold(claims.Iss, clientID) {
		return nil, rejection("invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter. %s", docsHint)
	}
	if !s.audienceOK(claims.Aud, r.PathValue("tenant")) {
		return nil, rejection("invalid_client", 700023, "Client assertion audience claim does not match Realm issuer. %s", docsHint)
	}
	cred, ok := app.findCredential(hdr.X5TS256, hdr.X5T)
	if !ok {
		return nil, rejection("invalid_client", 700027,
			"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://learn.microsoft.com/graph/deployments if you're using a national cloud.]",
			thumbprintHex(hdr), clientID)
	}
	now := s.now()
	if now.After(cred.endDate()) || now.Before(cred.Cert.NotBefore) {
		return nil, rejection("invalid_client", 7000274,
			"Key was found, but it is not within its validity period. Key credential with thumbprint '%s' on app '%s' is valid from %s to %s.",
			sha1Hex(cred), clientID, timeFormat(cred.Cert.NotBefore), timeFormat(cred.endDate()))
	}
	if !verifySignature(cred, hdr.Alg, parts[0]+"."+parts[1], sig) {
		return nil, rejection("invalid_client", 700027,
			"Client assertion failed signature validation. [Reason - The key was found, but the signature does not verify with it., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s'.]",
			sha1Hex(cred), timeFormat(cred.Cert.NotBefore), timeFormat(cred.endDate()))
	}
	nbf, okNbf := unixTime(claims.Nbf)
	exp, okExp := unixTime(claims.Exp)
	if !okExp || !okNbf {
		return nil, malformed("the nbf and exp claims are required numeric dates")
	}
	if now.Before(nbf.Add(-s.opts.Skew)) || now.After(exp.Add(s.opts.Skew)) {
		return nil, rejection("invalid_client", 700024,
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. %s",
			timeFormat(now), timeFormat(nbf), timeFormat(exp), docsHint)
	}
	if claims.Jti == "" {
		return nil, malformed("the jti claim is required")
	}
	if e := s.recordJTI(claims.Jti, exp.Add(s.opts.Skew), now); e != nil {
		return nil, e
	}
	return app, nil
}

// recordJTI remembers an assertion id until it could no longer be accepted anyway, and refuses
// one seen before.
func (s *Server) recordJTI(jti string, until, now time.Time) *aadError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.jtis {
		if now.After(t) {
			delete(s.jtis, id)
		}
	}
	if _, seen := s.jtis[jti]; seen {
		return rejection("invalid_client", 50013, "Assertion is invalid: a client assertion with jti '%s' was already presented. Create a new client assertion for every request.", jti)
	}
	s.jtis[jti] = until
	return nil
}

// audienceOK accepts the tenant's v2.0 or v1 token endpoint, named by tenant id or domain.
func (s *Server) audienceOK(aud audience, tenantInPath string) bool {
	names := []string{s.tenant, strings.ToLower(tenantInPath)}
	if s.opts.Domain != "" {
		names = append(names, strings.ToLower(s.opts.Domain))
	}
	for _, a := range aud {
		for _, t := range names {
			for _, p := range []string{"/oauth2/v2.0/token", "/oauth2/token"} {
				if strings.EqualFold(a, s.url+"/"+t+p) {
					return true
				}
			}
		}
	}
	return false
}

// verifySignature checks RS256 or PS256 with the registered certificate's key. PS256 must use a
// salt as long as the hash (RFC 7518 §3.5), as .NET verifiers require.
func verifySignature(cred Credential, alg, signingInput string, sig []byte) bool {
	pub, ok := cred.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return false
	}
	digest := sha256.Sum256([]byte(signingInput))
	if alg == "PS256" {
		return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: sha256.Size}) == nil
	}
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
}

func malformed(why string) *aadError {
	return rejection("invalid_request", 50027, "Invalid JWT token. The token is malformed: %s.", why)
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func unixTime(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func sha1Hex(c Credential) string {
	d := sha1.Sum(c.Cert.Raw) // #nosec G401 -- display thumbprint
	return strings.ToUpper(hex.EncodeToString(d[:]))
}

// thumbprintHex shows the thumbprint the client sent, as Entra does: hex of the x5t (SHA-1) if
// present, else of x5t#S256.
func thumbprintHex(h assertionHeader) string {
	if b := decodeThumbprint(h.X5T); b != nil {
		return strings.ToUpper(hex.EncodeToString(b))
	}
	return strings.ToUpper(hex.EncodeToString(decodeThumbprint(h.X5TS256)))
}
