/** Sessions, cookies, brute-force delays, invitations, service accounts and the audit log through the API. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { hashToken } from '../../lambdas/domain/auth/tokens.js';
import { apiEvent, header } from '../support/http.js';
import { CHROME_MAC, identityHarness, logIn, signUp, uniqueEmail, type IdentityHarness } from '../support/identity.js';

let h: IdentityHarness;
beforeAll(async () => {
  h = await identityHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('sessions', () => {
  test('login returns a 256-bit token stored only as its SHA-256, and an HttpOnly, Secure, SameSite=Lax cookie', async () => {
    const u = await signUp(h);
    const res = await logIn(h, u.email, u.password);
    expect(res.status).toBe(200);
    const token: string = res.body.data.token;
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(res.body.data.user).toMatchObject({ gid: u.userGid, resource_type: 'user', email: u.email });
    expect(res.headers['set-cookie']).toMatch(new RegExp(`^session=${token}; Path=/; Max-Age=\\d+; HttpOnly; Secure; SameSite=Lax$`));
    const stored = await h.engine.db.selectFrom('sessions').select('token_hash').where('token_hash', '=', hashToken(token)).execute();
    expect(stored).toHaveLength(1);
    const raw = await h.engine.db.selectFrom('sessions').selectAll().where('user_gid', '=', u.userGid).execute();
    expect(JSON.stringify(raw)).not.toContain(token);
  });

  test('GET /users/me in Asana shape, with workspaces', async () => {
    const u = await signUp(h);
    const me = await h.call({ path: '/api/1.0/users/me', token: u.token });
    expect(me.status).toBe(200);
    expect(me.body.data).toEqual({ gid: u.userGid, resource_type: 'user', name: 'Test User', email: u.email, photo: null, workspaces: [{ gid: u.organizationGid, resource_type: 'workspace', name: 'Test Org' }] });
    expect(me.headers['cache-control']).toBe('no-store');
  });

  test('the cookie is accepted for GET only; state-changing requests need the bearer token', async () => {
    const u = await signUp(h);
    expect((await h.call({ path: '/api/1.0/users/me', cookie: `theme=dark; session=${u.token}` })).status).toBe(200);
    expect((await h.call({ method: 'POST', path: '/api/1.0/auth/logout', cookie: `session=${u.token}` })).status).toBe(401);
    expect((await h.call({ method: 'POST', path: '/api/1.0/auth/logout', token: u.token })).status).toBe(200);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(401);
  });

  test('sessions expire after the idle period and after the absolute lifetime', async () => {
    const u = await signUp(h);
    const idle = h.deps.config.auth.sessionIdleSeconds * 1000;
    h.clock.advance(idle - 120_000);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(200);
    h.clock.advance(idle - 120_000); // used recently: still alive although older than the idle period
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(200);
    h.clock.advance(idle + 1000);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(401);

    const v = await signUp(h);
    const absolute = h.deps.config.auth.sessionAbsoluteSeconds * 1000;
    for (let used = 0; used < absolute - 86_400_000; used += 86_400_000) {
      h.clock.advance(86_400_000);
      expect((await h.call({ path: '/api/1.0/users/me', token: v.token })).status).toBe(200);
    }
    h.clock.advance(86_400_000 + 1000);
    expect((await h.call({ path: '/api/1.0/users/me', token: v.token })).status).toBe(401);
  });

  test('listing and revoking sessions; a password change revokes the other sessions', async () => {
    const u = await signUp(h);
    const second = (await logIn(h, u.email, u.password)).body.data.token as string;
    const list = await h.call({ path: '/api/1.0/users/me/sessions', token: u.token });
    expect(list.body.data).toHaveLength(2);
    expect(list.body.data.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    const other = list.body.data.find((s: { current: boolean }) => !s.current);
    expect((await h.call({ method: 'DELETE', path: `/api/1.0/users/me/sessions/${other.gid}`, token: u.token })).status).toBe(200);
    expect((await h.call({ path: '/api/1.0/users/me', token: second })).status).toBe(401);
    expect((await h.call({ method: 'DELETE', path: `/api/1.0/users/me/sessions/${other.gid}`, token: u.token })).status).toBe(404);

    const third = (await logIn(h, u.email, u.password)).body.data.token as string;
    const changed = await h.call({ path: '/api/1.0/users/me/password', token: u.token, body: { data: { current_password: u.password, new_password: 'another long passphrase' } } });
    expect(changed.status).toBe(200);
    expect(changed.body.data.other_sessions_revoked).toBe(1);
    expect((await h.call({ path: '/api/1.0/users/me', token: third })).status).toBe(401);
    expect((await h.call({ path: '/api/1.0/users/me', token: u.token })).status).toBe(200);
    expect((await logIn(h, u.email, u.password)).status).toBe(401);
    expect((await logIn(h, u.email, 'another long passphrase')).status).toBe(200);
  });

  test('sign-up validates input: weak passwords, bad emails and duplicates get clear 4xx answers', async () => {
    const weak = await h.call({ path: '/api/1.0/auth/signup', body: { data: { email: uniqueEmail(), password: 'password1', name: 'A', organization_name: 'B' } } });
    expect(weak.status).toBe(400);
    expect(weak.body.errors[0].message).toMatch(/^data\.password: .*common/);
    const bad = await h.call({ path: '/api/1.0/auth/signup', body: { data: { email: 'not-an-email', password: 'fine passphrase', name: 'A', organization_name: 'B' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].message).toMatch(/^data\.email/);
    const u = await signUp(h);
    const dup = await h.call({ path: '/api/1.0/auth/signup', body: { data: { email: u.email.toUpperCase(), password: 'fine passphrase', name: 'A', organization_name: 'B' } } });
    expect(dup.status).toBe(409);
  });
});

describe('brute force', () => {
  test('unknown email and wrong password answer identically', async () => {
    const u = await signUp(h);
    const wrong = await logIn(h, u.email, 'not the password', { ip: '192.0.2.1' });
    const unknown = await logIn(h, uniqueEmail('nobody'), 'not the password', { ip: '192.0.2.2' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.body).toEqual(wrong.body);
    const strip = (hd: Record<string, string>) => Object.keys(hd).filter((k) => k !== 'x-request-id').sort();
    expect(strip(unknown.headers)).toEqual(strip(wrong.headers));
  });

  test('unknown email and wrong password take the same time (both run a full hash)', async () => {
    const slow = await identityHarness({ auth: { scrypt: { logN: 14, r: 8, p: 1 } } });
    try {
      const u = await signUp(slow);
      // CPU time of the process (scrypt runs on libuv's threads, which it counts), not wall
      // time: on a loaded CI machine other processes stretch wall time by any factor.
      const time = async (email: string, i: number) => {
        const start = process.cpuUsage();
        await logIn(slow, email, 'wrong password here', { ip: `192.0.2.${50 + i}` });
        const used = process.cpuUsage(start);
        return (used.user + used.system) / 1000;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 8; i++) {
        known.push(await time(u.email, i));
        unknown.push(await time(uniqueEmail('ghost'), i + 10));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const [a, b] = [median(known), median(unknown)];
      // Both include one scrypt (~100 ms of CPU here); a skipped hash would make one side over
      // ten times cheaper, so a wide margin keeps the check meaningful.
      expect(Math.min(a, b)).toBeGreaterThan(20);
      expect(Math.min(a, b) / Math.max(a, b)).toBeGreaterThan(0.5);
    } finally {
      await slow.close();
    }
  }, 60_000);

  test('failures per account slow down with growing delays (429 + Retry-After), then recover: no permanent lockout', async () => {
    const u = await signUp(h);
    const statuses: number[] = [];
    // Different IPs: the account counter alone triggers the delay.
    for (let i = 0; i < 5; i++) statuses.push((await logIn(h, u.email, 'wrong guess here', { ip: `198.18.0.${i + 1}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const blocked = await logIn(h, u.email, u.password, { ip: '198.18.0.50' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another failure after the delay doubles it.
    h.clock.advance(Number(blocked.headers['retry-after']) * 1000);
    await logIn(h, u.email, 'wrong guess again', { ip: '198.18.0.51' });
    const longer = await logIn(h, u.email, u.password, { ip: '198.18.0.52' });
    expect(longer.status).toBe(429);
    expect(Number(longer.headers['retry-after'])).toBeGreaterThan(Number(blocked.headers['retry-after']));
    h.clock.advance(Number(longer.headers['retry-after']) * 1000);
    expect((await logIn(h, u.email, u.password, { ip: '198.18.0.53' })).status).toBe(200);
  });

  test('failures from one IP network slow that network down across accounts', async () => {
    for (let i = 0; i < 5; i++) await logIn(h, uniqueEmail('spray'), 'some guess here', { ip: '198.19.7.7' });
    const res = await logIn(h, uniqueEmail('spray'), 'some guess here', { ip: '198.19.7.7' });
    expect(res.status).toBe(429);
    // Another network is not affected.
    expect((await logIn(h, uniqueEmail('spray'), 'some guess here', { ip: '198.19.8.8' })).status).toBe(401);
  });
});

describe('invitations', () => {
  test('an admin invites; the link works once, creates the account and membership, and its first session does not alert', async () => {
    const admin = await signUp(h);
    const email = uniqueEmail('invitee');
    const sent = await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: admin.token, body: { data: { email, role: 'member' } } });
    expect(sent.status).toBe(201);
    await h.deliverMail();
    const mail = h.mailTo(email)[0]!;
    expect(mail.subject).toContain('invited you to Test Org');
    const token = new URL(/(https:\S+accept\S+)/.exec(mail.text)![1]!).searchParams.get('token')!;
    const accepted = await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token, name: 'New Member', password: 'member passphrase' } }, ip: '203.0.113.77' });
    expect(accepted.status).toBe(201);
    expect(accepted.body.data.organization.gid).toBe(admin.organizationGid);
    expect((await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token, name: 'Again', password: 'member passphrase' } } })).status).toBe(410);
    expect((await logIn(h, email, 'member passphrase', { ip: '203.0.113.77' })).status).toBe(200);
    await h.deliverMail();
    expect(h.mailTo(email).filter((m) => m.subject === 'New login to your account')).toHaveLength(0);
  });

  test('the emailed link opens a form; posting it joins and sets the session cookie', async () => {
    const admin = await signUp(h);
    const email = uniqueEmail('browser');
    await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: admin.token, body: { data: { email, role: 'guest' } } });
    await h.deliverMail();
    const link = new URL(/(https:\S+accept\S+)/.exec(h.mailTo(email)[0]!.text)![1]!);
    const form = await h.handler(apiEvent({ path: `${link.pathname}${link.search}` }));
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('action="accept/confirm"');
    const joined = await h.handler(
      apiEvent({ method: 'POST', path: '/api/1.0/auth/invitations/accept/confirm', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: link.searchParams.get('token')!, name: 'Browser <b>User</b>', password: 'browser passphrase' }).toString() }),
    );
    expect(joined.statusCode).toBe(200);
    expect(joined.body).toContain('You joined Test Org');
    const cookie = /^session=([^;]+)/.exec(header(joined, 'Set-Cookie')!)![1]!;
    const me = await h.call({ path: '/api/1.0/users/me', cookie: `session=${cookie}` });
    expect(me.body.data.name).toBe('Browser <b>User</b>');
    expect(me.body.data.email).toBe(email);
  });

  test('invitations expire after 7 days; members cannot invite; non-members get 404', async () => {
    const admin = await signUp(h);
    const email = uniqueEmail('late');
    await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: admin.token, body: { data: { email, role: 'guest' } } });
    await h.deliverMail();
    const token = new URL(/(https:\S+accept\S+)/.exec(h.mailTo(email)[0]!.text)![1]!).searchParams.get('token')!;
    h.clock.advance(7 * 86_400_000 + 1000);
    expect((await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token, name: 'Late', password: 'late passphrase' } } })).status).toBe(410);

    const memberEmail = uniqueEmail('member');
    const adminToken = (await logIn(h, admin.email, admin.password)).body.data.token as string;
    expect((await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: adminToken, body: { data: { email: memberEmail, role: 'member' } } })).status).toBe(201);
    await h.deliverMail();
    const t2 = new URL(/(https:\S+accept\S+)/.exec(h.mailTo(memberEmail)[0]!.text)![1]!).searchParams.get('token')!;
    const member = (await h.call({ path: '/api/1.0/auth/invitations/accept', body: { data: { token: t2, name: 'M', password: 'member passphrase' } } })).body.data.token as string;
    expect((await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: member, body: { data: { email: uniqueEmail(), role: 'member' } } })).status).toBe(403);
    const stranger = await signUp(h);
    expect((await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/invitations`, token: stranger.token, body: { data: { email: uniqueEmail(), role: 'member' } } })).status).toBe(404);
  });
});

describe('service accounts', () => {
  test('super admins create them (token shown once), list them without tokens, revoke them; they never log in or alert', async () => {
    const admin = await signUp(h);
    const created = await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts`, token: admin.token, body: { data: { name: 'Nightly backup', scopes: ['exports'] } } });
    expect(created.status).toBe(201);
    const token: string = created.body.data.token;
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    const list = await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts`, token: admin.token });
    expect(list.body.data).toEqual([expect.objectContaining({ gid: created.body.data.gid, name: 'Nightly backup', scopes: ['exports'] })]);
    expect(JSON.stringify(list.body)).not.toContain(token);

    // A service account is not a user: user endpoints refuse it, and it never starts a session.
    const asSa = await h.call({ path: '/api/1.0/users/me', token });
    expect(asSa.status).toBe(403);
    expect((await h.engine.db.selectFrom('login_events').select('gid').where('user_gid', '=', created.body.data.gid).execute())).toEqual([]);
    const mailBefore = h.mailer.sent.length;
    await h.deliverMail();
    expect(h.mailer.sent.length).toBe(mailBefore);

    expect((await h.call({ method: 'DELETE', path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts/${created.body.data.gid}`, token: admin.token })).status).toBe(200);
    expect((await h.call({ path: '/api/1.0/users/me', token })).status).toBe(401);
  });

  test('only super admins manage them; unknown scopes are refused', async () => {
    const admin = await signUp(h);
    const bad = await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts`, token: admin.token, body: { data: { name: 'x', scopes: ['everything'] } } });
    expect(bad.status).toBe(400);
    const other = await signUp(h);
    expect((await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts`, token: other.token })).status).toBe(404);
  });
});

describe('audit log', () => {
  test('super admins read security events in Asana shape; others cannot', async () => {
    const admin = await signUp(h, { userAgent: CHROME_MAC, ip: '203.0.113.90' });
    await logIn(h, admin.email, 'wrong password!!', { ip: '203.0.113.91' });
    await logIn(h, admin.email, admin.password, { ip: '203.0.113.92' });
    await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/service_accounts`, token: admin.token, body: { data: { name: 'Backup', scopes: ['exports'] } } });
    const log = await h.call({ path: `/api/1.0/workspaces/${admin.organizationGid}/audit_log_events?limit=100`, token: admin.token });
    expect(log.status).toBe(200);
    const types = log.body.data.map((e: { event_type: string }) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(['user_created', 'user_login_succeeded', 'user_login_failed', 'service_account_created']));
    const failed = log.body.data.find((e: { event_type: string }) => e.event_type === 'user_login_failed');
    expect(failed).toMatchObject({ actor: { actor_type: 'anonymous' }, resource: { resource_type: 'user', gid: admin.userGid }, context: { context_type: 'api', client_ip_address: '203.0.113.91' } });
    const filtered = await h.call({ path: `/api/1.0/workspaces/${admin.organizationGid}/audit_log_events?event_type=service_account_created`, token: admin.token });
    expect(filtered.body.data).toHaveLength(1);
    expect(JSON.stringify(log.body)).not.toMatch(/password=|wrong password/);
    const stranger = await signUp(h);
    expect((await h.call({ path: `/api/1.0/workspaces/${admin.organizationGid}/audit_log_events`, token: stranger.token })).status).toBe(404);
  });
});

describe('SSO settings', () => {
  test('super admins configure providers; the client secret is stored encrypted and never shown; required SSO blocks password logins', async () => {
    const admin = await signUp(h);
    const path = `/api/1.0/organizations/${admin.organizationGid}/sso`;
    const early = await h.call({ method: 'PUT', path, token: admin.token, body: { data: { required: true } } });
    expect(early.status).toBe(400);
    const put = await h.call({ method: 'PUT', path, token: admin.token, body: { data: { oidc: { issuer: 'https://accounts.example.com', client_id: 'client-123', client_secret: 'super-secret-value-42' } } } });
    expect(put.status).toBe(200);
    expect(put.body.data).toEqual({ required: false, oidc: { issuer: 'https://accounts.example.com', client_id: 'client-123' }, saml: null, oidc_redirect_uri: 'https://tasks.example.test/api/1.0/auth/oidc/callback' });
    const row = await h.engine.db.selectFrom('organizations').select(['oidc_client_secret_enc']).where('gid', '=', admin.organizationGid).executeTakeFirstOrThrow();
    expect(row.oidc_client_secret_enc).toMatch(/^v1\./);
    expect(row.oidc_client_secret_enc).not.toContain('super-secret');
    const audit = await h.engine.db.selectFrom('audit_log_events').select('details').where('event_type', '=', 'organization_sso_settings_changed').where('organization_gid', '=', admin.organizationGid).execute();
    expect(JSON.stringify(audit)).not.toContain('super-secret');

    expect((await h.call({ method: 'PUT', path, token: admin.token, body: { data: { required: true } } })).status).toBe(200);
    const login = await logIn(h, admin.email, admin.password);
    expect(login.status).toBe(403);
    expect(login.body.errors[0].message).toMatch(/requires single sign-on/);
    // A wrong password still gets the ordinary answer: SSO status is not disclosed to guessers.
    expect((await logIn(h, admin.email, 'a wrong password')).status).toBe(401);
    const get = await h.call({ path, token: admin.token });
    expect(JSON.stringify(get.body)).not.toContain('super-secret');
  });

  test('only super admins see or change the settings', async () => {
    const admin = await signUp(h);
    const stranger = await signUp(h);
    expect((await h.call({ path: `/api/1.0/organizations/${admin.organizationGid}/sso`, token: stranger.token })).status).toBe(404);
    expect((await h.call({ method: 'PUT', path: `/api/1.0/organizations/${admin.organizationGid}/sso`, token: admin.token, body: { data: { oidc: { issuer: 'ftp://bad', client_id: 'x', client_secret: 'y' } } } })).status).toBe(400);
  });
});
