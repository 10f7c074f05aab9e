// provider.mjs runs panva's oidc-provider as the OpenID provider the pivauth flows are tested
// against. It is started by the Go helper in hw-test/oidc/oidctest, which writes the JSON
// configuration file named by the only argument:
//
//   {
//     "host": "127.0.0.1",
//     "tls": {"cert": "PEM", "key": "PEM"},        server certificate for both listeners
//     "clientCAs": "PEM",                          CAs trusted for tls_client_auth
//     "clients": [ {client metadata}, ... ],       RFC 7591 metadata, registered statically
//     "resources": {"https://api": {"scope": "read write"}},
//     "testUser": "bench.user",                    the account the automatic interactions sign in
//     "denyUser": false,                           answer every interaction with access_denied
//     "device": {"interval": 1, "slowDownPolls": 0, "ttl": 600}
//   }
//
// Two HTTPS listeners serve the same provider: the issuer (no client certificate requested) and
// the RFC 8705 mTLS endpoint aliases (client certificate requested, any issuer accepted so that
// self_signed_tls_client_auth works; "authorized" records whether it chains to clientCAs). Once
// both listen, one JSON line {"issuer": URL, "mtls": URL} is written to stdout.
//
// Interactions (login and consent) are answered automatically for the test user, so the
// authorization code and device flows can be driven by a plain HTTP client with a cookie jar.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = config.host || '127.0.0.1';
const device = { interval: 1, slowDownPolls: 0, ttl: 600, ...config.device };

// listen resolves with the port of an HTTPS server bound to host on a free port.
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

const issuerServer = createServer({ cert: config.tls.cert, key: config.tls.key });
const mtlsServer = createServer({
  cert: config.tls.cert,
  key: config.tls.key,
  ca: config.clientCAs || undefined,
  requestCert: true,
  rejectUnauthorized: false,
});
const issuerPort = await listen(issuerServer);
const mtlsPort = await listen(mtlsServer);
const issuer = `https://${host}:${issuerPort}`;
const mtls = `https://${host}:${mtlsPort}`;

// signingKeys: a fresh RSA key (ID tokens, RS256) and P-256 key (JWT access tokens, ES256).
function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: randomUUID(), use: 'sig', alg: 'RS256' },
    { ...ec, kid: randomUUID(), use: 'sig', alg: 'ES256' },
  ];
}

// peerCertificate returns the TLS client certificate of the request, or undefined.
function peerCertificate(ctx) {
  const { socket } = ctx.req;
  return typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
}

// rfc4514 turns Node's subject ("C=US\nO=Org\nCN=Name", in certificate order) into the RFC 4514
// string Go's pkix.Name.String() and RFC 8705 registrations use ("CN=Name,O=Org,C=US").
function rfc4514(subject) {
  return subject.split('\n').filter(Boolean).reverse().join(',');
}

// subjectAltNames returns the values of one SAN type from Node's "DNS:a, IP Address:b" form.
function subjectAltNames(cert, type) {
  return (cert.subjectAltName || '').split(', ')
    .filter((entry) => entry.startsWith(`${type}:`))
    .map((entry) => entry.slice(type.length + 1));
}

const sanTypes = {
  tls_client_auth_san_dns: 'DNS',
  tls_client_auth_san_uri: 'URI',
  tls_client_auth_san_ip: 'IP Address',
  tls_client_auth_san_email: 'email',
};

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: signingKeys() },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount(ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id, email: `${id}@pivauth.test` }) };
  },
  clientAuthMethods: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
  },
  scopes: ['openid', 'offline_access', 'email'],
  pkce: { methods: ['S256'], required: () => true },
  ttl: { DeviceCode: device.ttl },
  discovery: {
    mtls_endpoint_aliases: {
      token_endpoint: `${mtls}/token`,
      device_authorization_endpoint: `${mtls}/device/auth`,
      userinfo_endpoint: `${mtls}/me`,
      introspection_endpoint: `${mtls}/token/introspection`,
      revocation_endpoint: `${mtls}/token/revocation`,
    },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => (oneOf ? oneOf[0] : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, indicator) {
        const resource = (config.resources || {})[indicator];
        if (!resource) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return {
          scope: resource.scope,
          audience: indicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      selfSignedTlsClientAuth: true,
      tlsClientAuth: true,
      getCertificate: peerCertificate,
      certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
      certificateSubjectMatches(ctx, property, expected) {
        const cert = peerCertificate(ctx);
        if (property === 'tls_client_auth_subject_dn') {
          return rfc4514(cert.subject) === expected;
        }
        return subjectAltNames(cert, sanTypes[property]).includes(expected);
      },
    },
  },
});

// Automatic interactions: the test user signs in and consents to whatever was asked.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') {
    return next();
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  if (config.denyUser) {
    result = { error: 'access_denied', error_description: 'the test user declined' };
  } else if (prompt.name === 'login') {
    result = { login: { accountId: config.testUser || 'bench.user' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.redirect(returnTo);
  return undefined;
});

// The device authorization response gets the polling interval the test asked for, and the first
// slowDownPolls "authorization_pending" answers per device code become "slow_down", so that a
// client's RFC 8628 back-off is exercised without waiting for a real rate limit.
const polls = new Map();
provider.use(async (ctx, next) => {
  await next();
  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : undefined;
  if (body && body.device_code && body.user_code) {
    body.interval = device.interval;
  }
  if (body && body.error === 'authorization_pending') {
    const code = ctx.oidc?.params?.device_code;
    const seen = (polls.get(code) || 0) + 1;
    polls.set(code, seen);
    if (seen <= device.slowDownPolls) {
      ctx.body = { error: 'slow_down', error_description: 'the test provider asks for a slower polling rate' };
    }
  }
});

// Errors go to stderr, which the Go helper shows when a test fails.
for (const event of ['grant.error', 'device_authorization.error', 'authorization.error', 'server_error', 'introspection.error']) {
  provider.on(event, (ctx, err) => {
    process.stderr.write(`${event}: ${err.error || err.name}: ${err.error_description || err.message}${err.error_detail ? ` (${err.error_detail})` : ''}\n`);
  });
}

const callback = provider.callback();
issuerServer.on('request', callback);
mtlsServer.on('request', callback);

process.stdout.write(`${JSON.stringify({ issuer, mtls })}\n`);
