/**
 * Lifetimes of the emailed one-time links that act on their own: "This wasn't me" works
 * for 7 days after the login it is about, a password reset link for 1 hour
 * (lambdas/domain/auth/config.ts). Driven through the real routes with a ManualClock.
 * Single use is covered in login-alerts.test.ts; here only expiry: a link is honoured
 * just before its end, and refused (410, changing nothing) just after.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DEFAULT_AUTH_CONFIG } from '../../lambdas/domain/auth/config.js';
import { apiEvent } from '../support/http.js';
import { FIREFOX_WINDOWS, identityHarness, logIn, signUp, type IdentityHarness } from '../support/identity.js';

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
const GONE = 'This link is not valid: it was used, it expired, or it is incomplete';
const ALERT_SUBJECT = 'New login to your account';
/** The reset email after "This wasn't me", and the one a user asks for. */
const FORCED_RESET_SUBJECT = 'Choose a new password for your account';
const RESET_SUBJECT = 'Reset your password';

let h: IdentityHarness;
beforeAll(async () => {
  // The production lifetimes (the harness only cheapens password hashing).
  h = await identityHarness();
});
afterAll(async () => {
  await h?.close();
});

test('the harness runs with the production lifetimes: 7 days and 1 hour', () => {
  expect(h.deps.config.auth.notMeSeconds).toBe(DEFAULT_AUTH_CONFIG.notMeSeconds);
  expect(h.deps.config.auth.passwordResetSeconds).toBe(DEFAULT_AUTH_CONFIG.passwordResetSeconds);
  expect(DEFAULT_AUTH_CONFIG.notMeSeconds).toBe(7 * 24 * 3600);
  expect(DEFAULT_AUTH_CONFIG.passwordResetSeconds).toBe(3600);
});

/** The token of the newest email to `email` with that subject, from the link in it. */
async function linkToken(email: string, subject: string, pattern: RegExp): Promise<string> {
  await h.deliverMail();
  const mail = h.mailTo(email).filter((m) => m.subject === subject).at(-1);
  expect(mail).toBeDefined();
  return new URL(pattern.exec(mail!.text)![1]!).searchParams.get('token')!;
}
const notMeToken = (email: string) => linkToken(email, ALERT_SUBJECT, /This wasn't me: (\S+)/);
const resetToken = (email: string, subject = RESET_SUBJECT) => linkToken(email, subject, /(https:\S+password_reset\S+)/);

/** A user whose password login from a new browser and IP was alerted; the intruder's session and the link's token. */
async function alertedLogin(ip: string) {
  const u = await signUp(h, { ip: '203.0.113.40' });
  const intruder = await logIn(h, u.email, u.password, { ip, userAgent: FIREFOX_WINDOWS });
  expect(intruder.status).toBe(200);
  return { ...u, intruderToken: intruder.body.data.token as string, token: await notMeToken(u.email) };
}

/** "This wasn't me" security events recorded for the user (one per organization they belong to). */
const reportedEvents = async (userGid: string) =>
  (await h.engine.db.selectFrom('audit_log_events').select('gid').where('actor_gid', '=', userGid).where('event_type', '=', 'user_reported_login_not_them').execute()).length;
const mustReset = async (userGid: string) => (await h.engine.db.selectFrom('users').select('must_reset_password').where('gid', '=', userGid).executeTakeFirstOrThrow()).must_reset_password;
const revokedSessions = async (userGid: string) => (await h.engine.db.selectFrom('sessions').select('gid').where('user_gid', '=', userGid).where('revoked_at', 'is not', null).execute()).length;

describe('"This wasn\'t me" links last 7 days', () => {
  test('a second before 7 days, the link still secures the account', async () => {
    const u = await alertedLogin('192.0.2.140');
    h.clock.advance(7 * DAY - SECOND);
    const res = await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token: u.token } } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ sessions_revoked: 1, password_reset_required: true });
    expect(await mustReset(u.userGid)).toBe(true);
    expect(await reportedEvents(u.userGid)).toBe(1);
  });

  test('a second after 7 days, the link is refused (410) and changes nothing, through the API and the email form', async () => {
    const u = await alertedLogin('192.0.2.141');
    h.clock.advance(7 * DAY + SECOND);
    const mailBefore = h.mailTo(u.email).length;

    const res = await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token: u.token, revoke_all: true } } });
    expect(res.status).toBe(410);
    expect(res.body.errors[0].message).toBe(GONE);
    // The browser path: the form post of the page the email link opens.
    const form = await h.handler(
      apiEvent({ method: 'POST', path: '/api/1.0/auth/not-me/confirm', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: u.token, revoke_all: 'true' }).toString() }),
    );
    expect(form.statusCode).toBe(410);

    // Nothing happened: no revocation, no forced reset, no security event, no reset email.
    expect(await revokedSessions(u.userGid)).toBe(0);
    expect(await mustReset(u.userGid)).toBe(false);
    expect(await reportedEvents(u.userGid)).toBe(0);
    await h.deliverMail();
    expect(h.mailTo(u.email)).toHaveLength(mailBefore);
    // The password still logs in (not forced to reset).
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.40' })).status).toBe(200);
    // The token was not used up by the refusals either: it is expired, not consumed.
    const row = await h.engine.db.selectFrom('one_time_tokens').select(['used_at', 'expires_at', 'created_at']).where('user_gid', '=', u.userGid).where('purpose', '=', 'not_me').executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();
    expect(new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()).toBe(7 * DAY);
  });
});

describe('password reset links last 1 hour', () => {
  async function requestedReset() {
    const u = await signUp(h, { ip: '203.0.113.41' });
    const requested = await h.call({ path: '/api/1.0/auth/password_reset', body: { data: { email: u.email } } });
    expect(requested.status).toBe(202);
    return { ...u, resetToken: await resetToken(u.email) };
  }

  test('a second before 1 hour, the link sets the new password and signs every session out', async () => {
    const u = await requestedReset();
    h.clock.advance(HOUR - SECOND);
    const res = await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: u.resetToken, password: 'a fresh reset passphrase' } } });
    expect(res.status).toBe(200);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(401);
    expect((await logIn(h, u.email, 'a fresh reset passphrase', { ip: '203.0.113.41' })).status).toBe(200);
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.41' })).status).toBe(401);
  });

  test('a second after 1 hour, the link is refused (410) through the API and the email form; the password is unchanged', async () => {
    const u = await requestedReset();
    h.clock.advance(HOUR + SECOND);
    const res = await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: u.resetToken, password: 'a too late passphrase' } } });
    expect(res.status).toBe(410);
    expect(res.body.errors[0].message).toBe(GONE);
    const form = await h.handler(
      apiEvent({
        method: 'POST',
        path: '/api/1.0/auth/password_reset/complete/confirm',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: u.resetToken, password: 'a too late passphrase' }).toString(),
      }),
    );
    expect(form.statusCode).toBe(410);

    expect((await logIn(h, u.email, 'a too late passphrase', { ip: '203.0.113.41' })).status).toBe(401);
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.41' })).status).toBe(200);
    expect(await revokedSessions(u.userGid)).toBe(0);
  });

  test('the reset link that "This wasn\'t me" emails also lasts 1 hour; once it expired, a new reset can be requested', async () => {
    const u = await alertedLogin('192.0.2.142');
    expect((await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token: u.token } } })).status).toBe(200);
    const forced = await resetToken(u.email, FORCED_RESET_SUBJECT);
    h.clock.advance(HOUR + SECOND);
    expect((await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: forced, password: 'a too late passphrase' } } })).status).toBe(410);
    // Still locked out of password logins until a new password is chosen...
    expect(await mustReset(u.userGid)).toBe(true);
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.40' })).status).toBe(403);
    // ...which a freshly requested link allows, within its own hour.
    expect((await h.call({ path: '/api/1.0/auth/password_reset', body: { data: { email: u.email } } })).status).toBe(202);
    const fresh = await resetToken(u.email);
    expect(fresh).not.toBe(forced);
    h.clock.advance(HOUR - SECOND);
    expect((await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: fresh, password: 'a fresh reset passphrase' } } })).status).toBe(200);
    expect(await mustReset(u.userGid)).toBe(false);
    expect((await logIn(h, u.email, 'a fresh reset passphrase', { ip: '203.0.113.40' })).status).toBe(200);
  });
});
