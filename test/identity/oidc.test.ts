/**
 * OpenID Connect sign-on against a real OpenID provider (oidc-provider) running on
 * loopback: start -> provider -> callback -> session, with PKCE, state and nonce; users
 * keyed by (issuer, sub) and linked only by a verified email of a member; single-use,
 * expiring, browser-bound sign-ins; the login-detection alert for SSO logins.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { ManualClock } from '../../lambdas/adapters/clock.js';
import type { AppDeps } from '../../lambdas/domain/deps.js';
import { clearOidcConfigurationCache, INVALID_STATE_MESSAGE, OTHER_BROWSER_MESSAGE, purgeOidcRequests } from '../../lambdas/domain/auth/oidc.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { routes } from '../../lambdas/http/route-table.js';
import { oidcBrowserCookieName, oidcRoutes } from '../../lambdas/http/routes/sso-oidc.js';
import { logger } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { apiEvent, header, RecordingQueue, TEST_CONFIG, testDeps } from '../support/http.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

const REDIRECT_URI = 'https://api.example.test/prod/api/1.0/auth/oidc/callback';
const CALLBACK_COOKIE_PATH = '/prod/api/1.0/auth/oidc/callback';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';
const ALERT_SUBJECT = 'New login to your account';

let engine: TestEngine;
let deps: AppDeps;
let queue: RecordingQueue;
let handler: ApiHandler;
let idp: TestOidcProvider;
/** A provider that puts email only in UserInfo, not in the ID token (oidc-provider's strict default). */
let strictIdp: TestOidcProvider;
const savedEnv = process.env.OIDC_ALLOW_INSECURE_LOOPBACK;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  // The test providers are http on 127.0.0.1: allowed only with this explicit switch.
  process.env.OIDC_ALLOW_INSECURE_LOOPBACK = '1';
  engine = await openEngine('pglite');
  queue = new RecordingQueue();
  deps = testDeps(engine, { queue, config: { ...TEST_CONFIG, auth: { ...TEST_CONFIG.auth, scrypt: { logN: 4, r: 8, p: 1 } } } });
  handler = createApiHandler(deps, routes);
  idp = await startOidcProvider({ redirectUri: REDIRECT_URI });
  strictIdp = await startOidcProvider({ redirectUri: REDIRECT_URI, conformIdTokenClaims: true });
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.OIDC_ALLOW_INSECURE_LOOPBACK;
  else process.env.OIDC_ALLOW_INSECURE_LOOPBACK = savedEnv;
  clearOidcConfigurationCache();
  await idp?.close();
  await strictIdp?.close();
  await engine?.close();
});

// ---------------------------------------------------------------------------
// Helpers

interface Browser {
  ip: string;
  userAgent: string;
}
const HOME: Browser = { ip: '203.0.113.20', userAgent: CHROME_MAC };

interface Answer {
  status: number;
  body: any;
  headers: Record<string, string>;
}

async function call(init: { method?: string; path: string; body?: unknown; token?: string; cookie?: string; browser?: Browser }): Promise<Answer> {
  const browser = init.browser ?? HOME;
  const headers: Record<string, string> = { 'User-Agent': browser.userAgent };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.Cookie = init.cookie;
  const result: APIGatewayProxyResult = await handler(apiEvent({ method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), path: init.path, headers, body: init.body, sourceIp: browser.ip }));
  const all: Record<string, string> = {};
  for (const k of Object.keys(result.headers ?? {})) all[k.toLowerCase()] = header(result, k)!;
  return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : null, headers: all };
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;

interface Org {
  gid: string;
  admin: { email: string; password: string; gid: string; token: string };
}

/** A super admin signs up (from HOME) and configures the provider for their new organization. */
async function organizationWithOidc(provider: TestOidcProvider | null = idp): Promise<Org> {
  const email = `${unique('admin')}@example.com`;
  const password = 'a long enough passphrase';
  const signup = await call({ path: '/api/1.0/auth/signup', body: { data: { email, password, name: 'Ada Admin', organization_name: unique('Org') } } });
  expect(signup.status).toBe(201);
  const org: Org = { gid: signup.body.data.organization.gid, admin: { email, password, gid: signup.body.data.user.gid, token: signup.body.data.token } };
  if (provider) {
    const sso = await call({
      method: 'PUT',
      path: `/api/1.0/organizations/${org.gid}/sso`,
      token: org.admin.token,
      body: { data: { oidc: { issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret } } },
    });
    expect(sso.status).toBe(200);
    expect(sso.body.data.oidc_redirect_uri).toBe(REDIRECT_URI);
  }
  return org;
}

/** An account at the provider. */
function account(provider: TestOidcProvider, claims: { email?: string; email_verified?: boolean; name?: string }): string {
  const sub = unique('sub');
  provider.accounts.set(sub, claims);
  return sub;
}

interface Started {
  answer: Answer;
  location: URL;
  state: string;
  /** The browser-binding cookie as a Cookie header value. */
  cookie: string;
}

async function start(orgGid: string, browser: Browser = HOME): Promise<Started> {
  const answer = await call({ path: `/api/1.0/auth/oidc/start?organization=${orgGid}`, browser });
  expect(answer.status).toBe(302);
  const location = new URL(answer.headers.location!);
  const setCookie = answer.headers['set-cookie']!;
  return { answer, location, state: location.searchParams.get('state')!, cookie: setCookie.split(';', 1)[0]! };
}

const callback = (query: URLSearchParams | string, init: { cookie?: string; browser?: Browser } = {}) =>
  call({ path: `/api/1.0/auth/oidc/callback?${query.toString()}`, ...(init.cookie ? { cookie: init.cookie } : {}), ...(init.browser ? { browser: init.browser } : {}) });

/** The whole browser journey: start, sign in at the provider as `sub`, come back. */
async function oidcLogin(orgGid: string, sub: string, init: { browser?: Browser; provider?: TestOidcProvider; beforeCallback?: (state: string) => Promise<void> } = {}) {
  const browser = init.browser ?? HOME;
  const started = await start(orgGid, browser);
  const back = await (init.provider ?? idp).authorize(started.location.href, sub);
  await init.beforeCallback?.(started.state);
  const answer = await callback(back.searchParams, { cookie: started.cookie, browser });
  return { answer, started, back };
}

const identitiesOf = (userGid: string) => engine.db.selectFrom('user_identities').selectAll().where('user_gid', '=', userGid).execute();
const identityBySubject = (subject: string) => engine.db.selectFrom('user_identities').selectAll().where('subject', '=', subject).executeTakeFirst();
const sessionCount = async () => Number((await engine.db.selectFrom('sessions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const ssoRequest = (state: string) => engine.db.selectFrom('sso_requests').selectAll().where('id', '=', state).executeTakeFirst();

async function alertsTo(email: string) {
  const rows = await engine.db.selectFrom('outbox_messages').selectAll().where('topic', '=', 'mail').orderBy('created_at').execute();
  return rows
    .map((r) => ({ gid: r.gid, payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as { to: string[]; subject: string; text: string } }))
    .filter((r) => r.payload.to.includes(email) && r.payload.subject === ALERT_SUBJECT);
}

const errorMessage = (answer: Answer) => String(answer.body?.errors?.[0]?.message ?? '');
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

// ---------------------------------------------------------------------------

describe('GET /auth/oidc/start', () => {
  test('redirects to the provider with a code request: PKCE S256, state, nonce, the registered redirect URI; the pending sign-in is stored for 10 minutes', async () => {
    const org = await organizationWithOidc();
    const { answer, location, state, cookie } = await start(org.gid);

    expect(`${location.origin}${location.pathname}`).toBe(`${idp.issuer}/auth`);
    const q = location.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('scope')).toBe('openid email profile');
    expect(q.get('client_id')).toBe(idp.clientId);
    expect(q.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const row = await ssoRequest(state);
    expect(row).toMatchObject({ kind: 'oidc', organization_gid: org.gid, nonce: q.get('nonce'), used_at: null });
    // The challenge sent is the S256 of the verifier kept server-side (never sent to the browser).
    expect(q.get('code_challenge')).toBe(s256(row!.code_verifier!));
    expect(location.href).not.toContain(row!.code_verifier!);
    expect(row!.expires_at.getTime() - row!.created_at.getTime()).toBe(600_000);

    // The browser-binding cookie: named after the state, scoped to the callback, short-lived.
    const setCookie = answer.headers['set-cookie']!;
    expect(cookie).toBe(`${oidcBrowserCookieName(state)}=1`);
    expect(setCookie).toContain(`Path=${CALLBACK_COOKIE_PATH}`);
    expect(setCookie).toMatch(/Max-Age=600;.*HttpOnly; Secure; SameSite=Lax/);
    expect(setCookie).not.toContain(state);

    // Each start is a new sign-in.
    const again = await start(org.gid);
    expect(again.state).not.toBe(state);
    expect(again.location.searchParams.get('nonce')).not.toBe(q.get('nonce'));
  });

  test('an unknown organization, or one without OpenID Connect, is 404', async () => {
    const unknown = await call({ path: '/api/1.0/auth/oidc/start?organization=9007199254740990' });
    expect(unknown.status).toBe(404);
    const plain = await organizationWithOidc(null);
    const none = await call({ path: `/api/1.0/auth/oidc/start?organization=${plain.gid}` });
    expect(none.status).toBe(404);
    expect(errorMessage(none)).toMatch(/OpenID Connect/);
    expect((await call({ path: '/api/1.0/auth/oidc/start?organization=not-a-gid' })).status).toBe(400);
  });

  test('an http issuer is refused unless explicitly allowed, and never off loopback', async () => {
    const org = await organizationWithOidc();
    delete process.env.OIDC_ALLOW_INSECURE_LOOPBACK;
    try {
      const refused = await call({ path: `/api/1.0/auth/oidc/start?organization=${org.gid}` });
      expect(refused.status).toBe(400);
      expect(errorMessage(refused)).toMatch(/https/);
      expect(await engine.db.selectFrom('sso_requests').select('id').where('organization_gid', '=', org.gid).execute()).toEqual([]);
    } finally {
      process.env.OIDC_ALLOW_INSECURE_LOOPBACK = '1';
    }
    // With the switch on, a non-loopback http issuer is still refused (and never contacted).
    const remote = await organizationWithOidc(null);
    const put = await call({ method: 'PUT', path: `/api/1.0/organizations/${remote.gid}/sso`, token: remote.admin.token, body: { data: { oidc: { issuer: 'http://idp.example.test', client_id: 'c', client_secret: 's' } } } });
    expect(put.status).toBe(200);
    const refused = await call({ path: `/api/1.0/auth/oidc/start?organization=${remote.gid}` });
    expect(refused.status).toBe(400);
    expect(errorMessage(refused)).toMatch(/must use https/);
  });
});

describe('GET /auth/oidc/callback', () => {
  test('the full flow gives a session that works on GET /users/me, and links the member by (issuer, sub)', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true, name: 'Ada at the IdP' });
    const { answer, back } = await oidcLogin(org.gid, sub);
    expect(back.searchParams.get('iss')).toBe(idp.issuer);
    expect(answer.status).toBe(200);
    expect(answer.body.data.user).toMatchObject({ gid: org.admin.gid, resource_type: 'user', email: org.admin.email });
    const token = answer.body.data.token as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.headers['set-cookie']).toMatch(new RegExp(`^session=${token}; Path=/; Max-Age=\\d+; HttpOnly; Secure; SameSite=Lax$`));

    const me = await call({ path: '/api/1.0/users/me', token });
    expect(me.status).toBe(200);
    expect(me.body.data.gid).toBe(org.admin.gid);

    expect(await identitiesOf(org.admin.gid)).toEqual([expect.objectContaining({ kind: 'oidc', issuer: idp.issuer, subject: sub, organization_gid: org.gid })]);
    const session = await engine.db.selectFrom('sessions').selectAll().where('user_gid', '=', org.admin.gid).where('method', '=', 'oidc').execute();
    expect(session).toHaveLength(1);
    expect(idp.hits).toContain('/token');
  });

  test('a second login finds the user by (issuer, sub) even after the email claim changed', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    expect((await oidcLogin(org.gid, sub)).answer.status).toBe(200);
    // The provider now reports another address, not even verified: the link by sub still holds.
    idp.accounts.set(sub, { email: `${unique('renamed')}@elsewhere.test`, email_verified: false });
    const second = await oidcLogin(org.gid, sub);
    expect(second.answer.status).toBe(200);
    expect(second.answer.body.data.user.gid).toBe(org.admin.gid);
    expect(await identitiesOf(org.admin.gid)).toHaveLength(1);
  });

  test('an unverified (or unstated) email cannot link an account: 403, nothing linked, no session', async () => {
    const org = await organizationWithOidc();
    const before = await sessionCount();
    const unverified = account(idp, { email: org.admin.email, email_verified: false });
    const res = await oidcLogin(org.gid, unverified);
    expect(res.answer.status).toBe(403);
    expect(errorMessage(res.answer)).toMatch(/verified email/);
    const unstated = account(idp, { email: org.admin.email });
    expect((await oidcLogin(org.gid, unstated)).answer.status).toBe(403);
    expect(await identityBySubject(unverified)).toBeUndefined();
    expect(await identityBySubject(unstated)).toBeUndefined();
    expect(await identitiesOf(org.admin.gid)).toEqual([]);
    expect(await sessionCount()).toBe(before);
  });

  test('a verified email that is not a member of the organization is refused, even if it has an account elsewhere', async () => {
    const org = await organizationWithOidc();
    const stranger = account(idp, { email: `${unique('stranger')}@example.com`, email_verified: true });
    const res = await oidcLogin(org.gid, stranger);
    expect(res.answer.status).toBe(403);
    expect(errorMessage(res.answer)).toMatch(/No member of this organization/);

    const elsewhere = await organizationWithOidc(null); // a user of another organization
    const outsider = account(idp, { email: elsewhere.admin.email, email_verified: true });
    const res2 = await oidcLogin(org.gid, outsider);
    expect(res2.answer.status).toBe(403);
    expect(await identityBySubject(stranger)).toBeUndefined();
    expect(await identityBySubject(outsider)).toBeUndefined();
  });

  test('a replayed state is refused: the sign-in is used once', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const { answer, started, back } = await oidcLogin(org.gid, sub);
    expect(answer.status).toBe(200);
    expect((await ssoRequest(started.state))!.used_at).not.toBeNull();
    const before = await sessionCount();
    const replay = await callback(back.searchParams, { cookie: started.cookie });
    expect(replay.status).toBe(400);
    expect(errorMessage(replay)).toBe(INVALID_STATE_MESSAGE);
    expect(await sessionCount()).toBe(before);
  });

  test('concurrent callbacks with one state log in at most once', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const started = await start(org.gid);
    const back = await idp.authorize(started.location.href, sub);
    const answers = await Promise.all(Array.from({ length: 4 }, () => callback(back.searchParams, { cookie: started.cookie })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400]);
  });

  test('a tampered, unknown or missing state is refused, and does not use up the real one', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const started = await start(org.gid);
    const back = await idp.authorize(started.location.href, sub);
    const state = back.searchParams.get('state')!;
    expect(state).toBe(started.state);

    const tampered = new URLSearchParams(back.searchParams);
    tampered.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
    const forged = await callback(tampered, { cookie: `${oidcBrowserCookieName(tampered.get('state')!)}=1; ${started.cookie}` });
    expect(forged.status).toBe(400);
    expect(errorMessage(forged)).toBe(INVALID_STATE_MESSAGE);

    const missing = new URLSearchParams(back.searchParams);
    missing.delete('state');
    const noState = await callback(missing, { cookie: started.cookie });
    expect(noState.status).toBe(400);
    expect(errorMessage(noState)).toMatch(/no state/);

    expect((await ssoRequest(state))!.used_at).toBeNull();
    expect((await callback(back.searchParams, { cookie: started.cookie })).status).toBe(200);
  });

  test('a nonce mismatch is refused (401), as is a code redeemed with another PKCE verifier', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const before = await sessionCount();

    const nonce = await oidcLogin(org.gid, sub, {
      beforeCallback: async (state) => {
        await engine.db.updateTable('sso_requests').set({ nonce: randomBytes(32).toString('base64url') }).where('id', '=', state).execute();
      },
    });
    expect(nonce.answer.status).toBe(401);
    expect(errorMessage(nonce.answer)).toMatch(/nonce mismatch/);

    const pkce = await oidcLogin(org.gid, sub, {
      beforeCallback: async (state) => {
        await engine.db.updateTable('sso_requests').set({ code_verifier: randomBytes(32).toString('base64url') }).where('id', '=', state).execute();
      },
    });
    expect(pkce.answer.status).toBe(401);
    expect(errorMessage(pkce.answer)).toMatch(/did not accept the sign-in code \(invalid_grant\)/);
    // Nothing secret in the answer.
    for (const a of [nonce.answer, pkce.answer]) expect(JSON.stringify(a.body)).not.toMatch(new RegExp(`${idp.clientSecret}|code_verifier|${a === nonce.answer ? nonce.back.searchParams.get('code') : pkce.back.searchParams.get('code')}`));

    expect(await sessionCount()).toBe(before);
    expect(await identityBySubject(sub)).toBeUndefined();
  });

  test('a sign-in not finished within 10 minutes is refused', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const res = await oidcLogin(org.gid, sub, { beforeCallback: async () => (deps.clock as ManualClock).advance(601_000) });
    expect(res.answer.status).toBe(400);
    expect(errorMessage(res.answer)).toBe(INVALID_STATE_MESSAGE);
  });

  test('expired pending sign-ins are purged a day after they expire; fresh ones are kept', async () => {
    const org = await organizationWithOidc();
    const old = await start(org.gid);
    (deps.clock as ManualClock).advance(600_000 + 86_400_000 + 1000);
    const fresh = await start(org.gid);
    expect(await purgeOidcRequests(deps)).toBeGreaterThanOrEqual(1);
    expect(await ssoRequest(old.state)).toBeUndefined();
    expect(await ssoRequest(fresh.state)).toBeDefined();
  });

  test('a sign-in finishes only in the browser that started it (no login CSRF)', async () => {
    const org = await organizationWithOidc();
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const started = await start(org.gid);
    const back = await idp.authorize(started.location.href, sub);
    const other = await start(org.gid); // this browser's cookie is for another sign-in
    const victim = await callback(back.searchParams, { cookie: other.cookie });
    expect(victim.status).toBe(400);
    expect(errorMessage(victim)).toBe(OTHER_BROWSER_MESSAGE);
    expect(victim.headers['set-cookie']).toBeUndefined();
    // The intercepted sign-in is used up.
    expect((await callback(back.searchParams, { cookie: started.cookie })).status).toBe(400);
  });

  test('a user who declines at the provider gets 401 with the provider error; the sign-in is used up', async () => {
    const org = await organizationWithOidc();
    const started = await start(org.gid);
    const back = await idp.authorize(started.location.href, { abort: true });
    expect(back.searchParams.get('error')).toBe('access_denied');
    const res = await callback(back.searchParams, { cookie: started.cookie });
    expect(res.status).toBe(401);
    expect(errorMessage(res)).toMatch(/did not sign you in \(access_denied: The user declined to sign in\)/);
    expect((await ssoRequest(started.state))!.used_at).not.toBeNull();
  });

  test('an organization that requires SSO refuses passwords but accepts OpenID Connect', async () => {
    const org = await organizationWithOidc();
    const put = await call({ method: 'PUT', path: `/api/1.0/organizations/${org.gid}/sso`, token: org.admin.token, body: { data: { required: true } } });
    expect(put.status).toBe(200);
    expect(put.body.data.required).toBe(true);
    const password = await call({ path: '/api/1.0/auth/login', body: { data: { email: org.admin.email, password: org.admin.password } } });
    expect(password.status).toBe(403);
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    const sso = await oidcLogin(org.gid, sub);
    expect(sso.answer.status).toBe(200);
    expect((await call({ path: '/api/1.0/users/me', token: sso.answer.body.data.token })).status).toBe(200);
  });

  test('a provider that gives the email only through UserInfo works too', async () => {
    const org = await organizationWithOidc(strictIdp);
    const sub = account(strictIdp, { email: org.admin.email, email_verified: true });
    const { answer } = await oidcLogin(org.gid, sub, { provider: strictIdp });
    expect(answer.status).toBe(200);
    expect(answer.body.data.user.gid).toBe(org.admin.gid);
    expect(strictIdp.hits).toContain('/me'); // oidc-provider's UserInfo endpoint
    expect((await identityBySubject(sub))?.issuer).toBe(strictIdp.issuer);
    // An unverified email from UserInfo cannot link either.
    const unverified = account(strictIdp, { email: org.admin.email, email_verified: false });
    expect((await oidcLogin(org.gid, unverified, { provider: strictIdp })).answer.status).toBe(403);
  });
});

describe('login-detection alert for OpenID Connect logins', () => {
  test('the first OIDC login from a new browser + IP emails the user SSO advice; the same browser + IP again does not', async () => {
    const org = await organizationWithOidc(); // signed up from HOME
    const sub = account(idp, { email: org.admin.email, email_verified: true });
    expect(await alertsTo(org.admin.email)).toEqual([]);

    const travel: Browser = { ip: '198.51.100.77', userAgent: FIREFOX_WINDOWS };
    const sentBefore = queue.sent.length;
    const first = await oidcLogin(org.gid, sub, { browser: travel });
    expect(first.answer.status).toBe(200);
    const alerts = await alertsTo(org.admin.email);
    expect(alerts).toHaveLength(1);
    const text = alerts[0]!.payload.text;
    expect(text).toContain('Method:   single sign-on (OpenID Connect)');
    expect(text).toContain("contact your identity provider's administrator");
    expect(text).toContain('IP:       198.51.100.77');
    expect(text).toContain('Firefox on Windows');
    expect(text).not.toMatch(/choose a new password/);
    // The mail worker was poked with that outbox message.
    expect(queue.sent.slice(sentBefore)).toEqual([{ queue: 'mail', body: { outbox_gid: alerts[0]!.gid } }]);

    const sentAfterFirst = queue.sent.length;
    const second = await oidcLogin(org.gid, sub, { browser: travel });
    expect(second.answer.status).toBe(200);
    expect(await alertsTo(org.admin.email)).toHaveLength(1);
    expect(queue.sent.length).toBe(sentAfterFirst);

    // The sign-up's own browser + IP is known as well: no alert from there either.
    expect((await oidcLogin(org.gid, sub, { browser: HOME })).answer.status).toBe(200);
    expect(await alertsTo(org.admin.email)).toHaveLength(1);
    const logins = await engine.db.selectFrom('login_events').select(['method', 'was_new']).where('user_gid', '=', org.admin.gid).where('method', '=', 'oidc').orderBy('created_at').orderBy('gid').execute();
    expect(logins.map((l) => l.was_new).sort()).toEqual([false, false, true]);
  });
});
