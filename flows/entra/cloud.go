package entra

import (
	"fmt"
	"net/url"
	"strings"
)

// Entra cloud login hosts (authority hosts). National clouds have their own; an app registered in
// one cloud is unknown in the others (AADSTS90002/700016).
const (
	PublicCloud       = "https://login.microsoftonline.com"
	USGovernmentCloud = "https://login.microsoftonline.us"
	ChinaCloud        = "https://login.chinacloudapi.cn"
)

// CloudByName returns the login host for a cloud name: "public" (AzureCloud), "usgov"
// (AzureUSGovernment, GCC High, DoD) or "china" (AzureChinaCloud, 21Vianet). Case is ignored.
func CloudByName(name string) (string, error) {
	switch strings.ToLower(name) {
	case "", "public", "azurecloud", "global":
		return PublicCloud, nil
	case "usgov", "usgovernment", "azureusgovernment", "gcchigh", "dod":
		return USGovernmentCloud, nil
	case "china", "azurechinacloud":
		return ChinaCloud, nil
	}
	return "", fmt.Errorf("entra: unknown cloud %q: use public, usgov or china, or give the authority URL", name)
}

// AuthorityURL joins a cloud's login host and a tenant (directory id or verified domain).
func AuthorityURL(cloud, tenant string) string {
	if cloud == "" {
		cloud = PublicCloud
	}
	return strings.TrimSuffix(cloud, "/") + "/" + tenant
}

// CheckAuthority returns an error unless authority is an https URL naming a tenant, as New
// requires: callers check it before they open a card.
func CheckAuthority(authority string) error {
	_, err := checkAuthority(authority)
	return err
}

// checkAuthority makes sure the authority is an https URL naming a tenant, as MSAL requires.
func checkAuthority(authority string) (string, error) {
	a := strings.TrimSuffix(authority, "/")
	u, err := url.Parse(a)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("entra: authority %q is not an https URL such as %s/<tenant>", authority, PublicCloud)
	}
	if strings.Trim(u.Path, "/") == "" {
		return "", fmt.Errorf("entra: authority %q names no tenant: append the directory (tenant) id or domain", authority)
	}
	return a, nil
}
