// A Node program on Microsoft's @azure/identity that knows nothing of pivauth: it gets a token for
// each scope given with ManagedIdentityCredential, as a Node service deployed to App Service does,
// and prints one JSON line per token. The bench tests run it under `pivauth exec
// --managed-identity`.
//
// Usage: node client.mjs SCOPE...
import { ManagedIdentityCredential } from "@azure/identity";

const credential = new ManagedIdentityCredential();
for (const scope of process.argv.slice(2)) {
  try {
    const token = await credential.getToken(scope);
    console.log(JSON.stringify({ scope, token: token.token, expires_on: Math.floor(token.expiresOnTimestamp / 1000) }));
  } catch (err) {
    console.error(`client.mjs: ${err.name}: ${err.message}`);
    process.exit(1);
  }
}
