// A Node program on Microsoft's @azure/identity that knows nothing of pivauth: it gets a token for
// each scope given with ManagedIdentityCredential or DefaultAzureCredential, as a Node service
// deployed to App Service does, and prints one JSON line per token. The bench tests run it under
// `pivauth exec --managed-identity`.
//
// Usage: node client.mjs managed|default SCOPE...
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

const [kind, ...scopes] = process.argv.slice(2);
const credentials = { managed: ManagedIdentityCredential, default: DefaultAzureCredential };
if (!credentials[kind]) {
  console.error("usage: node client.mjs managed|default SCOPE...");
  process.exit(2);
}
const credential = new credentials[kind]();
for (const scope of scopes) {
  try {
    const token = await credential.getToken(scope);
    console.log(JSON.stringify({ scope, token: token.token, expires_on: Math.floor(token.expiresOnTimestamp / 1000) }));
  } catch (err) {
    console.error(`client.mjs: ${err.name}: ${err.message}`);
    process.exit(1);
  }
}
