// Command entra-standin runs the Entra ID stand-in of package hw-test/entra as a process, for
// `make demo`, the CLI's end-to-end tests and manual trials:
//
//	entra-standin -listen 127.0.0.1:8443 -tenant 11111111-2222-3333-4444-555555555555 \
//	    -app 6f1d2c3b-0000-4000-8000-0000000000aa=card.pem -role https://graph.microsoft.com=Mail.Read \
//	    -ca-out /tmp/standin-ca.pem -info-out /tmp/standin.json
//
// then, for example: SSL_CERT_FILE=/tmp/standin-ca.pem pivauth token --authority <authority> …
//
// It prints the authority on stdout once it listens and serves until SIGINT or SIGTERM.
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	standin "github.com/pivauth/pivauth/hw-test/entra"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "entra-standin:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("entra-standin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (port 0: any free port)")
	tenant := fs.String("tenant", "", "tenant id (default: a random UUID)")
	domain := fs.String("domain", "pivauth.test", "verified domain naming the tenant too")
	caOut := fs.String("ca-out", "", "write the server's CA certificate (PEM) to this file, for SSL_CERT_FILE")
	infoOut := fs.String("info-out", "", "write url, tenant, authority and token endpoint as JSON to this file")
	var apps, roles multiFlag
	fs.Var(&apps, "app", "register an app: CLIENT_ID=CERT.pem (all certificates in the file are registered; repeatable)")
	fs.Var(&roles, "role", "grant every app an application permission: RESOURCE=ROLE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	grants := map[string][]string{}
	for _, r := range roles {
		res, role, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("-role %q: want RESOURCE=ROLE", r)
		}
		grants[res] = append(grants[res], role)
	}
	opts := standin.Options{Addr: *listen, Tenant: *tenant, Domain: *domain}
	for _, a := range apps {
		id, file, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("-app %q: want CLIENT_ID=CERT.pem", a)
		}
		creds, err := readCertificates(file)
		if err != nil {
			return err
		}
		opts.Apps = append(opts.Apps, standin.App{ClientID: id, Certificates: creds, Roles: grants, Scopes: map[string][]string{"https://graph.microsoft.com": {"User.Read"}}})
	}
	srv, err := standin.Start(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *caOut != "" {
		if err := os.WriteFile(*caOut, srv.CAPEM(), 0o644); err != nil { // a CA certificate is public
			return err
		}
	}
	if *infoOut != "" {
		info, _ := json.MarshalIndent(map[string]string{
			"url": srv.URL(), "tenant": srv.Tenant(), "authority": srv.Authority(), "token_endpoint": srv.TokenEndpoint(),
		}, "", "  ")
		if err := os.WriteFile(*infoOut, append(info, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Println(srv.Authority())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

// readCertificates reads every CERTIFICATE block of a PEM file.
func readCertificates(file string) ([]standin.Credential, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var creds []standin.Credential
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		creds = append(creds, standin.Credential{Cert: c})
	}
	if len(creds) == 0 {
		return nil, errors.New(file + ": no CERTIFICATE block")
	}
	return creds, nil
}
