package entra

import (
	"slices"
	"strings"
)

// oidcScopes are the OpenID Connect scopes MSAL adds to every request; they name no resource.
var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

const graphResource = "https://graph.microsoft.com"

// resourceScopes is a scope request split into its one resource and the permissions asked of it.
type resourceScopes struct {
	resource    string   // as the client wrote it, e.g. "https://management.azure.com/"
	permissions []string // ".default" or permission names
	requested   []string // every scope as sent, echoed back in the response
}

// parseScopes splits a scope parameter. Bare permission names ("User.Read") belong to Microsoft
// Graph, as in Entra. More than one resource is AADSTS700022.
func parseScopes(param string) (resourceScopes, *aadError) {
	rs := resourceScopes{requested: strings.Fields(param)}
	for _, sc := range rs.requested {
		if slices.Contains(oidcScopes, strings.ToLower(sc)) {
			continue
		}
		res, perm := graphResource, sc
		if i := strings.LastIndex(sc, "/"); i >= 0 {
			res, perm = sc[:i], sc[i+1:]
		}
		if rs.resource != "" && !sameResource(rs.resource, res) {
			return rs, rejection("invalid_scope", 700022,
				"The provided value for the input parameter scope isn't valid because it contains more than one resource. Scope %s is not valid.", param)
		}
		rs.resource = res
		rs.permissions = append(rs.permissions, perm)
	}
	return rs, nil
}

// sameResource compares resource identifiers ignoring a trailing slash: Azure SDKs ask for
// "https://management.azure.com//.default".
func sameResource(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}

// knownResource reports whether the tenant has a service principal for the resource.
func (s *Server) knownResource(res string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.resources, func(r string) bool { return sameResource(r, res) })
}

// permissionsFor looks up the app's permissions on a resource in one of its permission maps.
func permissionsFor(m map[string][]string, res string) []string {
	for r, p := range m {
		if sameResource(r, res) {
			return p
		}
	}
	return nil
}
