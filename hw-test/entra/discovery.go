package entra

import (
	"net/http"

	jose "github.com/go-jose/go-jose/v4"
)

// handleDiscovery serves the tenant's OpenID configuration, which MSAL reads to find the
// authorization and token endpoints and checks the issuer's host against the authority's.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Discovery++ })
	if e := s.resolveTenant(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	base := s.Authority()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                           base + "/v2.0",
		"authorization_endpoint":                           base + "/oauth2/v2.0/authorize",
		"token_endpoint":                                   base + "/oauth2/v2.0/token",
		"jwks_uri":                                         base + "/discovery/v2.0/keys",
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "form_post"},
		"grant_types_supported":                            []string{"authorization_code", "client_credentials", "refresh_token"},
		"subject_types_supported":                          []string{"pairwise"},
		"id_token_signing_alg_values_supported":            []string{"RS256"},
		"scopes_supported":                                 []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "PS256"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"tenant_region_scope":                              "WW",
		"cloud_instance_name":                              "pivauth.test",
	})
}

// handleKeys publishes the key that signs issued tokens.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Keys++ })
	if e := s.resolveTenant(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}})
}
