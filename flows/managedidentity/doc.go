// Package managedidentity serves the Azure App Service managed-identity protocol on a local
// endpoint, so that every Azure SDK and tool that knows managed identity (azidentity,
// @azure/identity, azure-identity for Python, Azure.Identity for .NET, Azure CLI, Azure PowerShell)
// gets tokens from a card without a change: the client asks the endpoint for a token for a
// resource, the handler gets one from its TokenFunc (pivauth: a client assertion signed on the
// card, sent to Entra ID) and answers as App Service does.
//
// Two versions of the protocol are served on one endpoint:
//
//   - 2019-08-01: GET ENDPOINT?resource=R&api-version=2019-08-01 with the secret in the
//     X-IDENTITY-HEADER header (environment IDENTITY_ENDPOINT, IDENTITY_HEADER);
//   - 2017-09-01, still used by Azure CLI and older SDKs: the secret in the "secret" header
//     (environment MSI_ENDPOINT, MSI_SECRET).
//
// The endpoint answers only requests that carry the secret (32 random bytes, compared in constant
// time), name it by a loopback Host and carry no browser Origin; every other request is refused
// before the TokenFunc is called, so it costs no card operation. Requests for one resource are
// served one at a time from the TokenFunc, which keeps its tokens (see TokenFunc): one card
// signature per resource per token lifetime, however many processes ask and however
// concurrently.
//
// Errors are answered as JSON with "error" and "error_description", the body the SDKs print, and
// with status codes none of the SDKs retries (400, 401, 403): a refusal from Entra or a wrong PIN
// does not get better by asking again, and each retry would cost a signature.
package managedidentity
