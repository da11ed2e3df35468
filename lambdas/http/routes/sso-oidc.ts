/**
 * OpenID Connect sign-on routes. A browser opens /auth/oidc/start?organization={gid}
 * (a link on a login page), is redirected to the organization's identity provider, and
 * comes back to /auth/oidc/callback, which answers like POST /auth/login: the session
 * token in JSON and the session cookie.
 *
 * The start also sets a short-lived cookie named after the state (HttpOnly, Secure,
 * SameSite=Lax, scoped to the callback path); the callback requires it, so a sign-in
 * completes only in the browser that began it.
 *
 * Register `${baseUrl}/api/1.0/auth/oidc/callback` as the redirect URI at the provider
 * (GET /organizations/{gid}/sso shows it as oidc_redirect_uri). Issuers must be https;
 * see lambdas/domain/auth/oidc.ts for the explicit loopback exception used in tests.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { finishOidcLogin, OIDC_REQUEST_TTL_SECONDS, oidcRedirectUri, startOidcLogin } from '../../domain/auth/oidc.js';
import { dataBody } from '../openapi.js';
import { defineRoute, type RequestMeta } from '../route.js';
import { gid } from '../schemas.js';
import { loginContext, sessionReply, userSchema } from './auth.js';

const TAGS = ['Single sign-on'];

/** The name of the cookie that binds a pending sign-in to the browser that started it. */
export const oidcBrowserCookieName = (state: string) => `oidc_login_${createHash('sha256').update(state).digest('base64url').slice(0, 22)}`;

const callbackCookiePath = (baseUrl: string) => new URL(oidcRedirectUri(baseUrl)).pathname;

function cookies(meta: RequestMeta): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (meta.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) jar.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return jar;
}

export const oidcStartRoute = defineRoute({
  method: 'GET',
  path: '/auth/oidc/start',
  scope: 'api',
  operationId: 'startOidcLogin',
  summary: "Sign in through the organization's OpenID Connect provider",
  description:
    'Open in a browser. Redirects (302) to the identity provider with an authorization code request (PKCE S256, state, nonce; scope "openid email profile"). The sign-in must be completed within 10 minutes, in the same browser. 404 when the organization does not exist or has no OpenID Connect provider.',
  tags: TAGS,
  auth: 'none',
  request: { query: z.object({ organization: gid.meta({ description: 'The organization (workspace) whose identity provider to use.' }) }) },
  responses: { 302: { description: "Redirect to the identity provider's authorization endpoint" } },
  async handle({ query, meta, deps }) {
    const started = await startOidcLogin(deps, { organizationGid: query.organization, baseUrl: meta.baseUrl });
    return {
      kind: 'raw',
      status: 302,
      headers: {
        Location: started.authorizationUrl,
        'Set-Cookie': `${oidcBrowserCookieName(started.state)}=1; Path=${callbackCookiePath(meta.baseUrl)}; Max-Age=${OIDC_REQUEST_TTL_SECONDS}; HttpOnly; Secure; SameSite=Lax`,
      },
      body: '',
    };
  },
});

const providerText = (max: number) => z.string().max(max).optional();

export const oidcCallbackRoute = defineRoute({
  method: 'GET',
  path: '/auth/oidc/callback',
  scope: 'api',
  operationId: 'completeOidcLogin',
  summary: 'Where the OpenID Connect provider sends the browser back',
  description:
    "Redeems the authorization code (checking state, nonce, PKCE and the ID token) and logs in: the user is found by (issuer, sub), or on first sign-in linked to the organization's member with the same email if the provider says it is verified. Answers like POST /auth/login. A login from a browser and IP address never used before emails the user. 400: unknown, expired, reused or other-browser sign-in; 401: the provider refused or its answer failed validation; 403: no member matches.",
  tags: TAGS,
  auth: 'none',
  request: {
    query: z.object({
      code: providerText(4096).meta({ description: 'Authorization code (on success).' }),
      state: providerText(512).meta({ description: 'The state of the sign-in (always sent back by the provider).' }),
      iss: providerText(2048).meta({ description: 'Issuer of the answer (RFC 9207).' }),
      session_state: providerText(1024),
      error: providerText(256).meta({ description: 'Error code from the provider, e.g. access_denied.' }),
      error_description: providerText(2048),
      error_uri: providerText(2048),
    }),
  },
  responses: { 200: { description: 'Logged in', schema: dataBody(z.object({ token: z.string(), expires_at: z.string(), user: userSchema })) } },
  async handle({ meta, deps }) {
    const jar = cookies(meta);
    const session = await finishOidcLogin(
      deps,
      { params: meta.rawQuery, baseUrl: meta.baseUrl, startedInThisBrowser: (state) => jar.get(oidcBrowserCookieName(state)) === '1' },
      loginContext(meta),
    );
    return sessionReply(session, deps.clock.now(), 200);
  },
});

export const oidcRoutes = [oidcStartRoute, oidcCallbackRoute];
