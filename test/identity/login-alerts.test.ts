/**
 * Login-detection emails: a user is emailed when they log in with a browser + IP
 * combination for the first time, exactly once, through the outbox, surviving mail
 * outages; "This wasn't me" secures the account.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { runPurge } from '../../lambdas/workers/purge.js';
import { apiEvent, header } from '../support/http.js';
import { CHROME_MAC, CHROME_MAC_UPDATED, FIREFOX_WINDOWS, identityHarness, logIn, relayDueMail, signUp, type IdentityHarness } from '../support/identity.js';

let h: IdentityHarness;
beforeAll(async () => {
  h = await identityHarness();
});
afterAll(async () => {
  await h?.close();
});

const SUBJECT = 'New login to your account';
const alerts = (email: string) => h.mailTo(email).filter((m) => m.subject === SUBJECT);

describe('the email matrix', () => {
  test('sign-up records its browser + IP: no alert for it, nor for a later login from it', async () => {
    const u = await signUp(h, { ip: '203.0.113.10', userAgent: CHROME_MAC });
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.10', userAgent: CHROME_MAC })).status).toBe(200);
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(0);
  });

  test('a new IP alerts, once; a browser update on a known combination does not', async () => {
    const u = await signUp(h, { ip: '203.0.113.11', userAgent: CHROME_MAC });
    expect((await logIn(h, u.email, u.password, { ip: '192.0.2.44', userAgent: CHROME_MAC })).status).toBe(200);
    expect((await logIn(h, u.email, u.password, { ip: '192.0.2.44', userAgent: CHROME_MAC })).status).toBe(200);
    expect((await logIn(h, u.email, u.password, { ip: '192.0.2.44', userAgent: CHROME_MAC_UPDATED })).status).toBe(200);
    await h.deliverMail();
    const sent = alerts(u.email);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain('IP:       192.0.2.44');
    expect(sent[0]!.text).toContain('Chrome on Mac OS');
    expect(sent[0]!.text).toMatch(/When: {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(sent[0]!.text).toContain('email and password');
    expect(sent[0]!.text).toMatch(/This wasn't me: https:\/\/tasks\.example\.test\/api\/1\.0\/auth\/not-me\?token=[A-Za-z0-9_-]{43}/);
  });

  test('a new browser on a known IP alerts', async () => {
    const u = await signUp(h, { ip: '203.0.113.12', userAgent: CHROME_MAC });
    await logIn(h, u.email, u.password, { ip: '203.0.113.12', userAgent: FIREFOX_WINDOWS });
    await h.deliverMail();
    expect(alerts(u.email).map((m) => m.text.includes('Firefox on Windows'))).toEqual([true]);
  });

  test('IPv6 addresses in the same /64 are one address; another /64 is new', async () => {
    const u = await signUp(h, { ip: '2001:db8:1:2::10', userAgent: CHROME_MAC });
    await logIn(h, u.email, u.password, { ip: '2001:db8:1:2:abcd::99', userAgent: CHROME_MAC });
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(0);
    await logIn(h, u.email, u.password, { ip: '2001:db8:1:3::10', userAgent: CHROME_MAC });
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(1);
  });

  test('concurrent logins from one new combination send exactly one email', async () => {
    const u = await signUp(h, { ip: '203.0.113.13' });
    const results = await Promise.all(Array.from({ length: 12 }, () => logIn(h, u.email, u.password, { ip: '198.51.100.200' })));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(1);
    const history = await h.call({ path: '/api/1.0/users/me/logins?limit=100', token: results[0]!.body.data.token, ip: '198.51.100.200' });
    expect(history.body.data.filter((l: { new_browser_and_ip: boolean }) => l.new_browser_and_ip)).toHaveLength(2); // the sign-up and one of the twelve
  });

  test('the alert is committed with the session: a login never waits on mail, and nothing is lost in an outage', async () => {
    const u = await signUp(h, { ip: '203.0.113.14' });
    h.mailer.down = true;
    const res = await logIn(h, u.email, u.password, { ip: '198.51.100.201' });
    expect(res.status).toBe(200);
    // The worker tries, fails, and the queue retries until the message is dead-lettered.
    for (let i = 0; i < 6; i++) {
      await h.deliverMail();
      h.clock.advance(61_000);
    }
    expect(alerts(u.email)).toHaveLength(0);
    // The outbox, not the queue, holds the alert while mail is down.
    const pending = await h.engine.db.selectFrom('outbox_messages').select(['gid', 'attempts', 'last_error']).where('dispatched_at', 'is', null).execute();
    expect(pending).toHaveLength(1);
    expect(pending[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(pending[0]!.last_error).toBe('ServiceUnavailable');

    // Mail comes back: the relay finds the undelivered alert and it goes out once.
    h.mailer.down = false;
    h.clock.advance(3_600_000);
    expect(await relayDueMail(h.deps)).toBeGreaterThan(0);
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(1);
    await relayDueMail(h.deps);
    await h.deliverMail();
    expect(alerts(u.email)).toHaveLength(1);
    const row = await h.engine.db.selectFrom('outbox_messages').select(['payload']).where('dispatched_at', 'is not', null).orderBy('dispatched_at', 'desc').executeTakeFirstOrThrow();
    // The one-time link does not stay in the database once sent.
    expect(JSON.stringify(row.payload)).not.toContain('not-me');
  });
});

describe("This wasn't me", () => {
  test('revokes the session, forces a password reset, records a security event, and works once', async () => {
    const u = await signUp(h, { ip: '203.0.113.20' });
    const intruder = await logIn(h, u.email, u.password, { ip: '192.0.2.99', userAgent: FIREFOX_WINDOWS });
    expect(intruder.status).toBe(200);
    await h.deliverMail();
    const link = /This wasn't me: (\S+)/.exec(alerts(u.email)[0]!.text)![1]!;
    const token = new URL(link).searchParams.get('token')!;

    const res = await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token } } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ sessions_revoked: 1, password_reset_required: true });
    // The intruder's session is dead; the owner's sign-up session still works.
    expect((await h.call({ path: '/api/1.0/users/me', token: intruder.body.data.token })).status).toBe(401);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(200);
    // Password logins are refused until a new password is chosen.
    expect((await logIn(h, u.email, u.password, { ip: '203.0.113.20' })).status).toBe(403);
    // The link works once.
    expect((await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token } } })).status).toBe(410);

    await h.deliverMail();
    const reset = h.mailTo(u.email).find((m) => m.subject === 'Choose a new password for your account')!;
    const resetLink = new URL(/(https:\S+password_reset\S+)/.exec(reset.text)![1]!);
    const resetToken = resetLink.searchParams.get('token')!;
    const form = await h.handler(apiEvent({ path: `${resetLink.pathname}${resetLink.search}` }));
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('action="complete/confirm"');
    expect((await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: resetToken, password: 'password' } } })).status).toBe(400);
    expect((await h.call({ path: '/api/1.0/auth/password_reset/complete', body: { data: { token: resetToken, password: 'a brand new passphrase' } } })).status).toBe(200);
    expect((await logIn(h, u.email, 'a brand new passphrase', { ip: '203.0.113.20' })).status).toBe(200);
    // The reset revoked every session, the owner's included.
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(401);

    const events = await h.engine.db.selectFrom('audit_log_events').select('event_type').where('organization_gid', '=', u.organizationGid).execute();
    expect(events.map((e) => e.event_type)).toEqual(expect.arrayContaining(['user_reported_login_not_them', 'user_password_changed']));
  });

  test('revoke_all signs every session out', async () => {
    const u = await signUp(h, { ip: '203.0.113.21' });
    const other = await logIn(h, u.email, u.password, { ip: '192.0.2.100' });
    await h.deliverMail();
    const token = new URL(/This wasn't me: (\S+)/.exec(alerts(u.email)[0]!.text)![1]!).searchParams.get('token')!;
    const res = await h.call({ path: '/api/1.0/auth/not-me', body: { data: { token, revoke_all: true } } });
    expect(res.body.data.sessions_revoked).toBe(2);
    for (const t of [u.token, other.body.data.token]) expect((await h.call({ path: '/api/1.0/users/me', token: t })).status).toBe(401);
  });
});

describe("This wasn't me, from the email link in a browser", () => {
  test('opening the link changes nothing; the form post secures the account', async () => {
    const u = await signUp(h, { ip: '203.0.113.22' });
    const intruder = await logIn(h, u.email, u.password, { ip: '192.0.2.101' });
    await h.deliverMail();
    const link = new URL(/This wasn't me: (\S+)/.exec(alerts(u.email)[0]!.text)![1]!);
    const token = link.searchParams.get('token')!;
    const pageRes = await h.handler(apiEvent({ path: `${link.pathname}${link.search}` }));
    expect(pageRes.statusCode).toBe(200);
    expect(header(pageRes, 'Content-Type')).toBe('text/html; charset=utf-8');
    expect(header(pageRes, 'Content-Security-Policy')).toContain("form-action 'self'");
    expect(pageRes.body).toContain(`name="token" value="${token}"`);
    expect(pageRes.body).toContain('action="not-me/confirm"');
    // A mail scanner fetching the link does not sign anyone out.
    expect((await h.call({ path: '/api/1.0/users/me', token: intruder.body.data.token })).status).toBe(200);

    const posted = await h.handler(
      apiEvent({ method: 'POST', path: '/api/1.0/auth/not-me/confirm', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, revoke_all: 'true' }).toString() }),
    );
    expect(posted.statusCode).toBe(200);
    expect(posted.body).toContain('We signed out 2 sessions');
    expect(posted.body).toContain('choose a new password');
    expect((await h.call({ path: '/api/1.0/users/me', token: intruder.body.data.token })).status).toBe(401);
    const json = await h.handler(apiEvent({ method: 'POST', path: '/api/1.0/auth/not-me/confirm', body: { data: { token } } }));
    expect(json.statusCode).toBe(415);
  });
});

describe('privacy of login detection', () => {
  test('the known-combination table holds HMACs, never the IP or the browser', async () => {
    const u = await signUp(h, { ip: '203.0.113.30' });
    const rows = await h.engine.db.selectFrom('known_logins').selectAll().where('user_gid', '=', u.userGid).execute();
    expect(rows).toHaveLength(1);
    const text = JSON.stringify(rows);
    expect(text).not.toContain('203.0.113.30');
    expect(text).not.toContain('Chrome');
    expect(rows[0]!.combo_hmac).toMatch(/^[0-9a-f]{64}$/);
  });

  test('raw IPs in the login history are purged after the retention period', async () => {
    const u = await signUp(h, { ip: '203.0.113.31' });
    const ips = async () =>
      (await h.engine.db.selectFrom('login_events').select(['ip_address', 'created_at']).where('user_gid', '=', u.userGid).orderBy('created_at').execute()).map((r) => r.ip_address);
    expect((await h.call({ path: '/api/1.0/users/me/logins', token: u.token, ip: '203.0.113.31' })).body.data[0].ip_address).toBe('203.0.113.31');
    h.clock.advance(89 * 86_400_000);
    await runPurge(h.deps);
    expect(await ips()).toEqual(['203.0.113.31']);
    h.clock.advance(2 * 86_400_000);
    const fresh = await logIn(h, u.email, u.password, { ip: '203.0.113.31' });
    expect((await runPurge(h.deps)).loginIpsCleared).toBeGreaterThanOrEqual(1);
    // The 91-day-old sign-up lost its IP; the fresh login keeps it.
    expect(await ips()).toEqual([null, '203.0.113.31']);
    const shown = (await h.call({ path: '/api/1.0/users/me/logins', token: fresh.body.data.token, ip: '203.0.113.31' })).body.data as { ip_address: string | null }[];
    expect(shown.map((l) => l.ip_address)).toEqual(['203.0.113.31', null]);
  });
});
