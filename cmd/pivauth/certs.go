package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/piv"
)

func (a *app) certsCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Show the certificate of a slot: subject, UPN, validity, thumbprints",
		Long: `Show the certificate in a slot of the card (--slot, default 9a): subject, issuer, subject
alternative names including the User Principal Name (UPN) that Entra certificate-based
authentication matches, validity, key type, and the SHA-1 thumbprint (upper-case hex, what the
Entra portal shows under Certificates & secrets) and the SHA-256 one.

--output pem prints the certificate to upload to an app registration; --output json prints one
object (with --all, an array with one object per slot). Reading certificates needs no PIN.`,
		Example: `  pivauth certs
  pivauth certs --slot 9c --output json
  pivauth certs --output pem > app.pem     # upload app.pem to the app registration
  pivauth certs --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var slots []piv.Slot // nil: every slot with a certificate
			if !all {
				slot, err := a.slot()
				if err != nil {
					return err
				}
				slots = []piv.Slot{slot}
			}
			ctx := cmd.Context()
			card, id, err := a.openIdentified(ctx)
			if err != nil {
				return err
			}
			defer card.Close()
			certs, err := readCertificates(ctx, card, slots)
			if err != nil {
				return err
			}
			if !all && len(certs) == 0 {
				return withCode(ExitError, fmt.Errorf("slot %s of %s holds no certificate: put one there with pivauth setup selfsign or pivauth setup import", slots[0], id))
			}
			now := time.Now()
			views := make([]certJSON, len(certs))
			for i, sc := range certs {
				views[i] = describeCert(sc.slot.String(), sc.cert, now)
				views[i].Reader, views[i].Card = id.Reader, id.String()
			}
			switch a.format {
			case "pem":
				for _, sc := range certs {
					if err := writePEM(a.stdout, sc.cert); err != nil {
						return err
					}
				}
			case "json":
				if all {
					return writeJSON(a.stdout, views)
				}
				return writeJSON(a.stdout, views[0])
			default:
				fmt.Fprintf(a.stdout, "%s in %q\n", id, id.Reader)
				for _, v := range views {
					fmt.Fprintf(a.stdout, "Slot %s (%s)\n", v.Slot, slotName(v.Slot))
					v.writeText(a.stdout, now)
				}
				if len(views) == 0 {
					fmt.Fprintln(a.stdout, "No certificates.")
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "show every slot that holds a certificate")
	setOutputFormats(cmd, "text", "json", "pem")
	return cmd
}
