/**
 * Export jobs through the API with a controllable clock: who may request, read and
 * download, the link's life (409 before, 302 during, 410 after), access re-checked on
 * every click, the audit trail, and the status's download_url.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import type { SQSEvent } from 'aws-lambda';
import { createMailWorker } from '../../lambdas/workers/mail.js';
import { runExportStep } from '../../lambdas/workers/exports.js';
import { enqueueMail } from '../../lambdas/domain/mail.js';
import { purgeAuditIps } from '../../lambdas/domain/audit.js';
import { purgeExpiredExports } from '../../lambdas/domain/exports/jobs.js';
import { identityHarness, type IdentityHarness } from '../support/identity.js';
import { RecordingMailer } from '../support/http.js';
import { organizationWithRoles, type Person } from '../support/world.js';

let h: IdentityHarness;
let dir: string;
let org: string;
let people: { superAdmin: Person; admin: Person; member: Person; guest: Person };
let outsider: Person;

beforeAll(async () => {
  // Sessions outlive the clock jumps of the link-lifetime test.
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
  dir = await mkdtemp(join(tmpdir(), 'export-jobs-'));
  h.deps.blobs = new LocalBlobs({ root: dir, baseUrl: 'https://tasks.example.test', secret: 'export-jobs', clock: h.clock });
  const a = await organizationWithRoles(h, 'Jobs Org');
  org = a.org.gid;
  people = a;
  outsider = (await organizationWithRoles(h, 'Other Org')).superAdmin;
  await h.engine.db.updateTable('organizations').set({ plan: 'paid' }).where('gid', '=', org).execute();
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

const plenty = () => 600_000;

async function finishedTeamExport(by: Person): Promise<string> {
  const res = await h.call({ method: 'POST', path: `/api/1.0/organizations/${org}/team_exports`, token: by.token });
  expect(res.status).toBe(202);
  const gid = res.body.data.gid as string;
  expect(await runExportStep(h.deps, { export_gid: gid, step: 0 }, plenty)).toBe('finished');
  return gid;
}

describe('export jobs', () => {
  test('a free organization gets a clear 402 and nothing is created', async () => {
    const free = await organizationWithRoles(h, 'Free Org');
    const before = await h.engine.db.selectFrom('export_jobs').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const res = await h.call({ method: 'POST', path: `/api/1.0/organizations/${free.org.gid}/team_exports`, token: free.admin.token });
    expect(res.status).toBe(402);
    expect(res.body.errors[0].message).toBe('Team CSV export is a paid feature: this organization is on the free plan');
    const after = await h.engine.db.selectFrom('export_jobs').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    // Members are told they lack the role (403), outsiders learn nothing (404).
    expect((await h.call({ method: 'POST', path: `/api/1.0/organizations/${free.org.gid}/team_exports`, token: free.member.token })).status).toBe(403);
    expect((await h.call({ method: 'POST', path: `/api/1.0/organizations/${free.org.gid}/team_exports`, token: outsider.token })).status).toBe(404);
  });

  test('the link: 409 before it is finished, 302 for 7 days (signed for 5 minutes), then 410; the status download_url follows', async () => {
    const res = await h.call({ method: 'POST', path: '/api/1.0/organization_exports', token: people.admin.token, body: { data: { organization: org } } });
    expect(res.status).toBe(201);
    const gid = res.body.data.gid as string;
    const link = `/api/1.0/exports/${gid}/download`;
    const early = await h.call({ path: link, token: people.admin.token });
    expect(early.status).toBe(409);
    expect(early.body.errors[0].message).toMatch(/not ready yet \(state: pending\)/);

    expect(await runExportStep(h.deps, { export_gid: gid, step: 0 }, plenty)).toBe('finished');
    const ok = await h.call({ path: link, token: people.admin.token });
    expect(ok.status).toBe(302);
    const location = new URL(ok.headers.location!);
    const redirectLife = Number(location.searchParams.get('expires')) * 1000 - h.clock.now().getTime();
    expect(redirectLife).toBeGreaterThan(299_000); // whole seconds
    expect(redirectLife).toBeLessThanOrEqual(300_000);
    const status = await h.call({ path: `/api/1.0/organization_exports/${gid}`, token: people.admin.token });
    const statusUrl = new URL(status.body.data.download_url);
    const statusLife = Number(statusUrl.searchParams.get('expires')) * 1000 - h.clock.now().getTime();
    expect(statusLife).toBeGreaterThan(3599_000);
    expect(statusLife).toBeLessThanOrEqual(3600_000);
    expect(status.body.data.expires_at).toBe(new Date(h.clock.now().getTime() + 7 * 86_400_000).toISOString());

    h.clock.advance(7 * 86_400_000 - 1000);
    expect((await h.call({ path: link, token: people.admin.token })).status).toBe(302);
    h.clock.advance(1000);
    const gone = await h.call({ path: link, token: people.admin.token });
    expect(gone.status).toBe(410);
    expect(gone.body.errors[0].message).toMatch(/expired/);
    const expired = await h.call({ path: `/api/1.0/organization_exports/${gid}`, token: people.admin.token });
    expect(expired.body.data).toMatchObject({ state: 'finished', download_url: null });
  });

  test('a file removed early (bucket lifecycle) answers 410, not a broken redirect', async () => {
    const gid = await finishedTeamExport(people.admin);
    const job = await h.engine.db.selectFrom('export_jobs').select('blob_key').where('gid', '=', gid).executeTakeFirstOrThrow();
    await h.deps.blobs.delete(job.blob_key!);
    expect((await h.call({ path: `/api/1.0/exports/${gid}/download`, token: people.admin.token })).status).toBe(410);
  });

  test('access is checked on every click: a requester who leaves the organization loses the link; admins keep it; the audit log records downloads', async () => {
    // A second admin requests, then is demoted to member: still the requester, still a member, so still theirs.
    const requester = people.admin;
    const gid = await finishedTeamExport(requester);
    const link = `/api/1.0/exports/${gid}/download`;
    expect((await h.call({ path: link, token: people.superAdmin.token })).status).toBe(302);
    expect((await h.call({ path: link, token: people.member.token })).status).toBe(404);
    expect((await h.call({ path: link, token: people.guest.token })).status).toBe(404);
    expect((await h.call({ path: link, token: outsider.token })).status).toBe(404);
    expect((await h.call({ path: link })).status).toBe(401);

    await h.engine.db.updateTable('organization_memberships').set({ removed_at: h.clock.now() }).where('organization_gid', '=', org).where('user_gid', '=', requester.gid).execute();
    expect((await h.call({ path: link, token: requester.token })).status).toBe(404);
    expect((await h.call({ path: `/api/1.0/exports/${gid}`, token: requester.token })).status).toBe(404);
    await h.engine.db.updateTable('organization_memberships').set({ removed_at: null }).where('organization_gid', '=', org).where('user_gid', '=', requester.gid).execute();
    expect((await h.call({ path: link, token: requester.token })).status).toBe(302);

    const events = await h.engine.db.selectFrom('audit_log_events').select(['event_type', 'event_category', 'actor_gid', 'resource_gid']).where('resource_gid', '=', gid).orderBy('created_at').execute();
    expect(events.map((e) => [e.event_type, e.event_category, e.actor_gid])).toEqual([
      ['team_export_requested', 'exports', requester.gid],
      ['export_downloaded', 'exports', people.superAdmin.gid],
      ['export_downloaded', 'exports', requester.gid],
    ]);
  });
});

describe('retention', () => {
  test('the purge deletes the files of expired and failed exports; a live one stays', async () => {
    const expiring = await finishedTeamExport(people.superAdmin);
    h.clock.advance(86_400_000);
    const live = await finishedTeamExport(people.superAdmin);
    const key = async (gid: string) => (await h.engine.db.selectFrom('export_jobs').select('blob_key').where('gid', '=', gid).executeTakeFirstOrThrow()).blob_key!;
    h.clock.advance(6 * 86_400_000 + 1000); // the first expired, the second has a day left
    expect(await purgeExpiredExports(h.deps)).toBeGreaterThanOrEqual(1);
    expect(await h.deps.blobs.head(await key(expiring))).toBeNull();
    expect(await h.deps.blobs.head(await key(live))).not.toBeNull();
    expect((await h.call({ path: `/api/1.0/exports/${expiring}/download`, token: people.superAdmin.token })).status).toBe(410);
  });

  test('audit events keep who did what, but not the IP address and user agent after the retention period', async () => {
    const db = h.engine.db;
    const recent = await db.selectFrom('audit_log_events').select('gid').where('ip_address', 'is not', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    h.clock.advance(91 * 86_400_000);
    await h.call({ path: `/api/1.0/exports/${await finishedTeamExport(people.superAdmin)}/download`, token: people.superAdmin.token });
    const cleared = await purgeAuditIps(db, h.clock.now(), 90);
    expect(cleared).toBeGreaterThan(0);
    const old = await db.selectFrom('audit_log_events').select(['ip_address', 'user_agent', 'event_type']).where('gid', '=', recent.gid).executeTakeFirstOrThrow();
    expect(old).toMatchObject({ ip_address: null, user_agent: null });
    const fresh = await db.selectFrom('audit_log_events').select('ip_address').where('event_type', '=', 'export_downloaded').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(fresh.ip_address).not.toBeNull();
  });
});

describe('mail worker batches', () => {
  test('a record that fails (send or claim) is reported alone; the others are sent once', async () => {
    const mailer = new RecordingMailer();
    const failing = { send: async (m: { to: string[] }) => (m.to[0] === 'bounce@example.com' ? Promise.reject(new Error('throttled')) : mailer.send(m as never)) };
    const db = h.engine.db;
    const good = await enqueueMail(db, h.deps, { to: ['ok@example.com'], subject: 's', text: 't' });
    const bad = await enqueueMail(db, h.deps, { to: ['bounce@example.com'], subject: 's', text: 't' });
    const claimFails = await enqueueMail(db, h.deps, { to: ['ok2@example.com'], subject: 's', text: 't' });
    // A database that fails the claim (an UPDATE naming the message) of one message only.
    const flakyDb = db.withPlugin({
      transformQuery: ({ node }) => {
        if (node.kind === 'UpdateQueryNode' && JSON.stringify(node).includes(claimFails!)) throw new Error('connection reset');
        return node;
      },
      transformResult: async ({ result }) => result,
    });
    const worker = createMailWorker({ ...h.deps, database: { ...h.deps.database, db: flakyDb }, mailer: failing as never });
    const record = (id: string, body: unknown) => ({ messageId: id, body: JSON.stringify(body) });
    const result = await worker({ Records: [record('a', { outbox_gid: good }), record('b', { outbox_gid: bad }), record('c', { outbox_gid: claimFails }), record('d', 'garbage')] } as unknown as SQSEvent, {} as never);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }, { itemIdentifier: 'c' }] });
    expect(mailer.sent.map((m) => m.to[0])).toEqual(['ok@example.com']);
  });
});
