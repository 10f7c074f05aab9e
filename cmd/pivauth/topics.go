package main

import "github.com/spf13/cobra"

// configTopic is `pivauth help config`.
func configTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "The configuration file and its profiles",
		Long: `pivauth reads named profiles from a JSON file: --config FILE, else $PIVAUTH_CONFIG, else
pivauth/config.json in the user configuration directory ($XDG_CONFIG_HOME, default ~/.config, on
Linux; ~/Library/Application Support on macOS; %AppData% on Windows). 'pivauth profile path' prints it.

The profile used is --profile NAME, else $PIVAUTH_PROFILE, else the file's "default_profile".
A profile's values fill in the flags of the same name that the command line did not give; a flag
always wins. Giving one of --tenant/--authority/--issuer (or one of --reader/--serial/--guid) on
the command line replaces the whole group from the profile. Unknown keys are an error.

  {
    "default_profile": "exo",
    "profiles": {
      "exo": {
        "tenant": "contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "scopes": ["https://outlook.office365.com/.default"],
        "serial": 12345678,
        "slot": "9a"
      },
      "idp": {
        "issuer": "https://idp.example.com",
        "client_id": "build-bot",
        "scopes": ["api:read"],
        "client_auth": "tls_client_auth",
        "ca_file": "/etc/ssl/internal-ca.pem",
        "pin_file": "/run/secrets/piv-pin"
      }
    }
  }

Keys: tenant, authority, issuer, client_id, scopes, client_auth, resources, bound, x5c, no_cache,
reader, serial, guid, slot, pin_file, pinentry, ca_file, http_timeout. The file holds no secret:
never put a PIN in it (use pin_file). 'pivauth profile set NAME --FLAG VALUE …' sets a profile's
values from the flags of the same names (writing the file mode 0600 in a 0700 directory), and
'pivauth profile set NAME --default' makes it the default. Line and column are named for a
file that is not valid JSON.

Without a flag or profile for them, AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_AUTHORITY_HOST are
read as the Azure SDKs read them (see 'pivauth help environment').

The file steers where the PIN and tokens go (pinentry, ca_file, issuer), so, as ssh does with its
configuration, pivauth refuses it when it, or its directory, is writable by group or others or
belongs to another user than you or root (a symlink is followed and the file it leads to checked
too); the message says what to run (chmod go-w …, chown …).`,
	}
}

// environmentTopic is `pivauth help environment`.
func environmentTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "environment",
		Short: "Environment variables pivauth reads and sets",
		Long: `Read:
  PIVAUTH_PIN         the PIN, for unattended jobs (prefer --pin-file: the environment of a process
                      can be read by the same user and is inherited by children; pivauth removes it
                      from the environment of 'pivauth exec' children)
  PIVAUTH_PROFILE     profile name when --profile is not given
  PIVAUTH_CONFIG      configuration file when --config is not given
  XDG_CONFIG_HOME     where the configuration directory is (Linux)
  XDG_CACHE_HOME      where the token cache is (Linux)
  XDG_STATE_HOME      where the audit log is (default ~/.local/state; see 'pivauth audit')
  XDG_RUNTIME_DIR     where the agent's socket is (see 'pivauth agent')
  SSL_CERT_FILE       extra trusted CA certificates (PEM), added to the system roots
  SSL_CERT_DIR        directories of trusted CA certificates (Go's standard handling)
  BROWSER             program that opens the sign-in page of 'pivauth login'
  AZURE_TENANT_ID     Entra tenant when no --tenant, --authority, --issuer or profile names one
  AZURE_CLIENT_ID     client id when no --client-id or profile gives one
  AZURE_AUTHORITY_HOST  login host with AZURE_TENANT_ID or --tenant (national clouds, e.g.
                      https://login.microsoftonline.us), as the Azure SDKs read it

Set by 'pivauth exec' for its command:
  PIVAUTH_ACCESS_TOKEN   the access token (also under each --env NAME)
  PIVAUTH_TOKEN_TYPE     its type (Bearer)
  PIVAUTH_EXPIRES_ON     its expiry, RFC 3339`,
	}
}
