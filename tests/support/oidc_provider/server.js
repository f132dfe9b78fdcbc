// A real OpenID Connect provider (panva/node-oidc-provider, OpenID Certified) for the identity
// service's sign-in tests: one confidential client, PKCE (S256) required, accounts from a JSON
// file, the platform's role and dealer claims under the `aftersales` scope. Loopback only.
//
//   node server.js --port 0 --client-id hq-portal --client-secret S \
//     --redirect-uri http://127.0.0.1:8004/oidc/callback --accounts accounts.json [--watch-stdin]
//
// Every option also reads an environment variable (OIDC_PORT, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated), OIDC_ACCOUNTS (a file path or the
// JSON itself)). Prints `READY <issuer>` once it listens; port 0 picks a free port, so the
// caller never races another process for one.
//
// accounts.json: {"<account id>": {"name": "…", "email": "…", "aftersales_role": "advisor",
//                                  "aftersales_dealer": "D001"}, …}
//
// Sign-in uses oidc-provider's development interactions: GET /interaction/<uid> shows a form
// whose POST (prompt=login, login=<account id>, any password) signs that account in, then a
// consent form (prompt=consent). Fine for a test provider, never for a real one.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    accounts: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
});

function setting(value, envName, fallback) {
  const chosen = value ?? process.env[envName] ?? fallback;
  if (chosen === undefined || chosen === '') {
    console.error(`server.js: give --${envName.slice(5).toLowerCase().replaceAll('_', '-')} or ${envName}`);
    process.exit(2);
  }
  return chosen;
}

const port = Number(setting(args.port, 'OIDC_PORT', '0'));
// Loopback only: this provider signs anyone in who types an account id.
const host = args.host ?? process.env.OIDC_HOST ?? '127.0.0.1';
const clientId = setting(args['client-id'], 'OIDC_CLIENT_ID');
const clientSecret = setting(args['client-secret'], 'OIDC_CLIENT_SECRET');
const redirectUris = args['redirect-uri']
  ?? setting(undefined, 'OIDC_REDIRECT_URIS').split(',').map((uri) => uri.trim()).filter(Boolean);
const accountsSource = setting(args.accounts, 'OIDC_ACCOUNTS');
// A file path, or (starting with `{`) the JSON itself.
const accounts = JSON.parse(
  accountsSource.trimStart().startsWith('{') ? accountsSource : readFileSync(accountsSource, 'utf8'),
);

// Fresh signing keys each run (the package's built-in development keys are public). Two
// kinds, so a relying party has to pick the key by `kid`, as it would at a real provider.
function signingKeys() {
  const kinds = [
    ['RS256', 'rsa', { modulusLength: 2048 }],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
  ];
  const keys = kinds.map(([alg, type, options]) => {
    const { privateKey } = generateKeyPairSync(type, options);
    return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomUUID() };
  });
  return { keys };
}

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  // PKCE for every client, confidential ones included (the package requires it only for
  // public clients by default); S256 is the only method oidc-provider 9 accepts.
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
    aftersales: ['aftersales_role', 'aftersales_dealer'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'aftersales'],
  features: {
    devInteractions: { enabled: true },
  },
  jwks: signingKeys(),
  cookies: { keys: [randomUUID()] },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      // oidc-provider keeps only the claims the granted scopes (or `claims` request) name.
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
};

const server = createServer();
server.listen(port, host, () => {
  const { port: actual } = server.address();
  const issuer = `http://${host}:${actual}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`READY ${issuer}`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A test runner that dies without killing us closes our stdin: go with it.
if (args['watch-stdin']) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
