package entra

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// authCodeLifetime is how long an authorization code can be redeemed, as in Entra.
const authCodeLifetime = 10 * time.Minute

// grant is what a user consented to: the basis of authorization codes and refresh tokens.
type grant struct {
	clientID string
	user     User
}

type authCode struct {
	grant
	redirectURI string
	challenge   string
	nonce       string
	issued      time.Time
	redeemed    bool
}

// handleToken serves the token endpoint: every grant authenticates the client by assertion first.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Token++ })
	if e := s.resolveTenant(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, rejection("invalid_request", 9002313, "Invalid request. Request is malformed or invalid."))
		return
	}
	gt := r.PostForm.Get("grant_type")
	if gt == "" {
		s.writeError(w, r, rejection("invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."))
		return
	}
	app, e := s.authenticateClient(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	var resp map[string]any
	switch gt {
	case "client_credentials":
		resp, e = s.clientCredentials(r, app)
	case "authorization_code":
		resp, e = s.redeemCode(r, app)
	case "refresh_token":
		resp, e = s.redeemRefreshToken(r, app)
	default:
		e = rejection("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", gt)
	}
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentials issues an app-only token for "<resource>/.default".
func (s *Server) clientCredentials(r *http.Request, app *App) (map[string]any, *aadError) {
	rs, e := parseScopes(r.PostForm.Get("scope"))
	if e != nil {
		return nil, e
	}
	if rs.resource == "" {
		return nil, rejection("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	}
	if len(rs.permissions) != 1 || rs.permissions[0] != ".default" {
		return nil, rejection("invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
			r.PostForm.Get("scope"))
	}
	if e := s.checkResource(rs.resource); e != nil {
		return nil, e
	}
	claims := s.baseClaims(rs.resource, app)
	spID := servicePrincipalID(app.ClientID)
	claims["oid"], claims["sub"], claims["idtyp"] = spID, spID, "app"
	if roles := permissionsFor(app.Roles, rs.resource); len(roles) > 0 {
		claims["roles"] = roles
	}
	at, err := s.sign(claims)
	if err != nil {
		return nil, serverError(err)
	}
	lifetime := int(s.opts.TokenLifetime / time.Second)
	return map[string]any{"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": at}, nil
}

// redeemCode exchanges an authorization code, checking client, redirect URI and PKCE verifier.
func (s *Server) redeemCode(r *http.Request, app *App) (map[string]any, *aadError) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	c := s.codes[code]
	var redeemed bool
	if c != nil {
		redeemed, c.redeemed = c.redeemed, true
	}
	s.mu.Unlock()
	switch {
	case c == nil || !strings.EqualFold(c.clientID, app.ClientID):
		return nil, rejection("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid for client '%s'.", app.ClientID)
	case redeemed:
		return nil, rejection("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case s.now().After(c.issued.Add(authCodeLifetime)):
		return nil, rejection("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case r.PostForm.Get("redirect_uri") != c.redirectURI:
		return nil, rejection("invalid_grant", 70000, "The redirect_uri '%s' does not match the one the code was issued for.", r.PostForm.Get("redirect_uri"))
	case c.challenge != "" && pkceS256(r.PostForm.Get("code_verifier")) != c.challenge:
		return nil, rejection("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	return s.userTokens(r, app, c.grant, c.nonce)
}

// redeemRefreshToken issues new user tokens (for any resource) from a refresh token, rotating it.
func (s *Server) redeemRefreshToken(r *http.Request, app *App) (map[string]any, *aadError) {
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	g := s.refresh[rt]
	delete(s.refresh, rt)
	s.mu.Unlock()
	if g == nil || !strings.EqualFold(g.clientID, app.ClientID) {
		return nil, rejection("invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token is not valid for client '%s'.", app.ClientID)
	}
	return s.userTokens(r, app, *g, "")
}

// userTokens issues an access token, ID token, client_info and refresh token for the user.
func (s *Server) userTokens(r *http.Request, app *App, g grant, nonce string) (map[string]any, *aadError) {
	rs, e := parseScopes(r.PostForm.Get("scope"))
	if e != nil {
		return nil, e
	}
	if rs.resource == "" {
		rs.resource, rs.permissions = graphResource, []string{"User.Read"}
	}
	if e := s.checkResource(rs.resource); e != nil {
		return nil, e
	}
	var scp []string
	for _, p := range rs.permissions {
		if p == ".default" {
			scp = append(scp, permissionsFor(app.Scopes, rs.resource)...)
		} else {
			scp = append(scp, p)
		}
	}
	claims := s.baseClaims(rs.resource, app)
	claims["oid"], claims["sub"] = g.user.ObjectID, pairwise(g.user.ObjectID, app.ClientID)
	claims["upn"], claims["name"], claims["scp"] = g.user.UPN, g.user.Name, strings.Join(scp, " ")
	at, err := s.sign(claims)
	if err != nil {
		return nil, serverError(err)
	}
	now := s.now()
	idClaims := map[string]any{
		"aud": app.ClientID, "iss": s.Issuer(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"tid": s.tenant, "oid": g.user.ObjectID, "sub": pairwise(g.user.ObjectID, app.ClientID),
		"name": g.user.Name, "preferred_username": g.user.UPN, "ver": "2.0",
	}
	if nonce != "" {
		idClaims["nonce"] = nonce
	}
	idt, err := s.sign(idClaims)
	if err != nil {
		return nil, serverError(err)
	}
	ci, _ := json.Marshal(map[string]string{"uid": g.user.ObjectID, "utid": s.tenant})
	rt := randomToken()
	s.mu.Lock()
	s.refresh[rt] = &g
	s.mu.Unlock()
	lifetime := int(s.opts.TokenLifetime / time.Second)
	return map[string]any{
		"token_type": "Bearer", "scope": strings.Join(rs.requested, " "), "expires_in": lifetime, "ext_expires_in": lifetime,
		"access_token": at, "refresh_token": rt, "id_token": idt,
		"client_info": base64.RawURLEncoding.EncodeToString(ci),
	}, nil
}

func (s *Server) checkResource(res string) *aadError {
	if !s.knownResource(res) {
		return rejection("invalid_resource", 500011,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			res, s.tenant)
	}
	return nil
}

// baseClaims are the claims of every access token.
func (s *Server) baseClaims(resource string, app *App) map[string]any {
	now := s.now()
	s.count(func(st *Stats) { st.Issued++ })
	return map[string]any{
		"aud": resource, "iss": s.Issuer(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(s.opts.TokenLifetime).Unix(),
		"tid": s.tenant, "appid": app.ClientID, "azp": app.ClientID, "appidacr": "2", "azpacr": "2",
		"ver": "2.0", "uti": randomToken()[:22],
	}
}

// sign makes an RS256 JWT with the server's key.
func (s *Server) sign(claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func serverError(err error) *aadError {
	return &aadError{status: http.StatusInternalServerError, oauth: "server_error", code: 50000, msg: "There was an error issuing a token: " + err.Error()}
}

// servicePrincipalID derives a stable object id for an app's service principal in the tenant.
func servicePrincipalID(clientID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("sp:"+strings.ToLower(clientID))).String()
}

// pairwise is the per-app subject Entra gives a user.
func pairwise(oid, clientID string) string {
	d := sha256.Sum256([]byte(oid + "|" + strings.ToLower(clientID)))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

func pkceS256(verifier string) string {
	d := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
