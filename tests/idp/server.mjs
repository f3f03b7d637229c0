// A real OpenID provider for the tests and the demo: panva's oidc-provider (OpenID Certified),
// on 127.0.0.1, on the port given (0: any free one). Everything it knows comes from one JSON
// document in the environment variable IDP_CONFIG:
//   {"port": 0,
//    "clients": [{"client_id", "client_secret", "redirect_uris": [...], "post_logout_redirect_uris": [...]}],
//    "users": {"<login>": {"id_number": "...", "name": "..."}}}
// Sign-in uses the package's development interactions (a form taking a login name, no password);
// consent is granted without asking (the registered clients are the provider's own, as the
// platform's relying parties are). The first line printed is "listening <issuer>".
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.IDP_CONFIG || '{}');
const users = config.users || {};

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: (config.clients || []).map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    // The ID number travels in the ID token with the name (the platform's profile scope).
    claims: { openid: ['sub'], profile: ['name', 'id_number'] },
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...user }; } };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
    pkce: { methods: ['S256'], required: () => true }, // a client that does not send a S256 challenge is refused
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['ecert-test-idp-cookie-key'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
