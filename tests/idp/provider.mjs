// A real OpenID Connect provider for the portal's tests: npm's certified oidc-provider, configured here.
//
// Environment: PORT, USERS_FILE (JSON: {"alice": {"email": "...", "groups": ["..."]}}, read at every sign-in so a
// test can change someone's groups), REDIRECT_URIS and POST_LOGOUT_URIS (comma-separated), CLIENT_SECRET.
// Clients: "portal" (codes live 60 s) and "portal-short" (codes live 1 s, for the expired-code test). Both get
// refresh tokens bound to the IdP session (as Keycloak's are): signing out at the IdP, or the account going
// away, ends them. MISCHIEF_FILE (JSON, read at every request) makes the IdP misbehave for refusal tests:
// {"userinfo_sub": "someone-else"} answers userinfo about another subject; {"id_token_alg_none": true} answers
// the token request with an unsigned (alg "none") ID token.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const split = (value) => (value || '').split(',').filter(Boolean);
const client = (clientId) => ({
  client_id: clientId,
  client_secret: process.env.CLIENT_SECRET,
  redirect_uris: split(process.env.REDIRECT_URIS),
  post_logout_redirect_uris: split(process.env.POST_LOGOUT_URIS),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
});

const users = () => JSON.parse(readFileSync(process.env.USERS_FILE, 'utf8'));
const mischief = () => {
  try {
    return JSON.parse(readFileSync(process.env.MISCHIEF_FILE, 'utf8'));
  } catch {
    return {};
  }
};
const unsigned = (jwt) => {
  const [, payload] = jwt.split('.');
  return `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
};

const provider = new Provider(issuer, {
  clients: [client('portal'), client('portal-short')],
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email,
          email_verified: true,
          preferred_username: id,
          name: user.name || id,
          groups: user.groups || [],
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AuthorizationCode: (ctx, token, theClient) => (theClient.clientId === 'portal-short' ? 1 : 60),
  },
  // First-party test clients: consent is implied, so the flow is sign-in form → back to the portal.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  cookies: { keys: ['test-idp-cookie-key'] },
});

provider.use(async (ctx, next) => {
  await next();
  const tricks = mischief();
  if (tricks.userinfo_sub && ctx.path === '/me' && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, sub: tricks.userinfo_sub };
  }
  if (tricks.id_token_alg_none && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: unsigned(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
