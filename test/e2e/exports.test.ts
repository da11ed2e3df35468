/**
 * Asynchronous exports end to end on the local runtime, as a user would meet them: HTTP
 * requests to the local server, the in-process queue running the export worker, the
 * outbox holding the email, the emailed link, the redirect to the signed download, and
 * the file parsed (CSV with a CSV parser, JSON against the published JSON Schema).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { CHEAP_AUTH } from '../support/identity.js';

let runtime: LocalRuntime;
let dataDir: string;
let api: string;

interface Account {
  email: string;
  token: string;
  userGid: string;
  organizationGid: string;
}

async function call(path: string, init: { method?: string; token?: string; cookie?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.Cookie = init.cookie;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path.startsWith('http') ? path : `${api}${path}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, redirect: 'manual', ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

let counter = 0;
async function signUp(organizationName: string): Promise<Account> {
  const email = `exporter-${Date.now().toString(36)}-${++counter}@example.com`;
  const res = await call('/auth/signup', { body: { data: { email, password: 'a long enough passphrase', name: `Exporter ${counter}`, organization_name: organizationName } } });
  expect(res.status).toBe(201);
  return { email, token: res.body.data.token, userGid: res.body.data.user.gid, organizationGid: res.body.data.organization.gid };
}

/** Waits for the worker and the mail worker: the email to `to` whose subject matches. */
async function mailTo(to: string, subject: RegExp, timeoutMs = 30_000): Promise<{ subject: string; text: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await runtime.deps.local!.listOutbox()).find((m) => m.to.includes(to) && subject.test(m.subject));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${subject}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const linkIn = (text: string) => /(http:\/\/\S+\/api\/1\.0\/exports\/\d+\/download)/.exec(text)?.[1];

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  dataDir = await mkdtemp(join(tmpdir(), 'e2e-exports-'));
  runtime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH, relayIntervalMs: 200 });
  api = `${runtime.baseUrl}/api/1.0`;
});
afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('team CSV export', () => {
  test('free plan: a clear 402; paid: request, worker, email, link, redirect, CSV', async () => {
    const admin = await signUp('Paid Teams Inc');
    const team = await call('/teams', { token: admin.token, body: { data: { name: '=HYPERLINK("http://evil")', organization: admin.organizationGid, description: 'Formula-looking name', visibility: 'secret' } } });
    expect(team.status).toBe(201);

    const free = await call(`/organizations/${admin.organizationGid}/team_exports`, { method: 'POST', token: admin.token });
    expect(free.status).toBe(402);
    expect(free.body.errors[0].message).toMatch(/paid feature/);

    await organizations.setPlan(runtime.deps.database.db, admin.organizationGid, 'paid', new Date());
    const requested = await call(`/organizations/${admin.organizationGid}/team_exports`, { method: 'POST', token: admin.token });
    expect(requested.status).toBe(202);
    expect(requested.body.data).toEqual({ gid: expect.any(String), resource_type: 'export', state: 'pending' });
    const gid = requested.body.data.gid as string;

    const mail = await mailTo(admin.email, /team export.*is ready/);
    const link = linkIn(mail.text);
    expect(link).toBe(`${api}/exports/${gid}/download`);

    // The link: access checked, then a redirect to a short-lived signed download. Works with the session cookie too.
    const anonymous = await call(link!);
    expect(anonymous.status).toBe(401);
    for (const auth of [{ token: admin.token }, { cookie: `session=${admin.token}` }]) {
      const redirect = await call(link!, auth);
      expect(redirect.status).toBe(302);
      const location = redirect.headers.get('location')!;
      expect(location).not.toContain(link!);
      const expires = Number(new URL(location).searchParams.get('expires'));
      expect(expires * 1000 - Date.now()).toBeLessThanOrEqual(300_000);
      const csv = await download(location);
      expect(csv.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
      const rows = parse(csv, { bom: true, columns: true, skip_empty_lines: true }) as Record<string, string>[];
      expect(Object.keys(rows[0]!)).toEqual(['Team', 'Member count', 'Privacy', 'Created on', 'Created by', 'Description', 'Member (email)', 'Limited access member (email)', 'Pending invite (email)']);
      const row = rows.find((r) => r.Team?.includes('HYPERLINK'))!;
      expect(row.Team).toBe(`'=HYPERLINK("http://evil")`);
      expect(row.Privacy).toBe('secret');
      expect(row['Member (email)']).toContain(admin.email);
    }

    const status = await call(`/exports/${gid}`, { token: admin.token });
    expect(status.status).toBe(200);
    expect(status.body.data).toMatchObject({ gid, kind: 'team_csv', state: 'finished', download_link: link });
    expect(status.body.data.manifest.sha256).toMatch(/^[0-9a-f]{64}$/);

    // Someone else's organization: the job does not exist for them.
    const outsider = await signUp('Elsewhere');
    expect((await call(link!, { token: outsider.token })).status).toBe(404);
    expect((await call(`/exports/${gid}`, { token: outsider.token })).status).toBe(404);
  }, 60_000);
});

describe('organization export', () => {
  test('an admin requests it: the emailed link downloads gzip JSON that validates against the schema, with the manifest\'s SHA-256', async () => {
    const admin = await signUp('Backup Corp');
    const project = await call('/projects', { token: admin.token, body: { data: { name: 'Quarterly plan', workspace: admin.organizationGid, privacy_setting: 'private' } } });
    expect(project.status).toBe(201);
    const task = await call('/tasks', { token: admin.token, body: { data: { name: 'Write the plan', projects: [project.body.data.gid], notes: 'Ünïcödé notes' } } });
    expect(task.status).toBe(201);

    const requested = await call('/organization_exports', { token: admin.token, body: { data: { organization: admin.organizationGid } } });
    expect(requested.status).toBe(201);
    expect(requested.body.data).toMatchObject({ resource_type: 'organization_export', state: 'pending', download_url: null, organization: { gid: admin.organizationGid } });

    const mail = await mailTo(admin.email, /organization export.*is ready/);
    const link = linkIn(mail.text)!;
    const redirect = await call(link, { token: admin.token });
    expect(redirect.status).toBe(302);
    const gz = await download(redirect.headers.get('location')!);
    expect(mail.text).toContain(createHash('sha256').update(gz).digest('hex'));
    const doc = JSON.parse(gunzipSync(gz).toString('utf8'));
    const schema = JSON.parse(await readFile('docs/schemas/organization-export.schema.json', 'utf8'));
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(schema);
    expect(validate.errors ?? (validate(doc) ? null : validate.errors)).toBeNull();
    expect(doc.tasks.map((t: { name: string; notes: string }) => [t.name, t.notes])).toContainEqual(['Write the plan', 'Ünïcödé notes']);
    expect(doc.projects.map((p: { name: string }) => p.name)).toContain('Quarterly plan');
  }, 60_000);

  test('a service account with the exports scope requests, polls and downloads it through the API; members and others cannot', async () => {
    const admin = await signUp('Automation LLC');
    const created = await call(`/organizations/${admin.organizationGid}/service_accounts`, { token: admin.token, body: { data: { name: 'Nightly backup', scopes: ['exports'] } } });
    expect(created.status).toBe(201);
    const robot = created.body.data.token as string;

    const requested = await call('/organization_exports', { token: robot, body: { data: { organization: admin.organizationGid, modified_since: '2020-01-01T00:00:00Z' } } });
    expect(requested.status).toBe(201);
    const gid = requested.body.data.gid as string;
    let status: any;
    for (let i = 0; i < 300; i++) {
      status = (await call(`/organization_exports/${gid}`, { token: robot })).body.data;
      if (status.state === 'finished' || status.state === 'error') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status.state).toBe('finished');
    expect(status.modified_since).toBe('2020-01-01T00:00:00.000Z');
    expect(status.progress.rows_written).toBeGreaterThan(0);
    const url = new URL(status.download_url);
    expect(Number(url.searchParams.get('expires')) * 1000 - Date.now()).toBeLessThanOrEqual(3600_000);
    const doc = JSON.parse(gunzipSync(await download(status.download_url)).toString('utf8'));
    expect(doc.export).toMatchObject({ kind: 'organization', incremental: true, export_gid: gid });
    // A fresh URL on every read, never the stored one.
    const again = (await call(`/organization_exports/${gid}`, { token: robot })).body.data;
    expect(typeof again.download_url).toBe('string');

    // No email for a service account: nobody to send it to.
    for (const mail of await runtime.deps.local!.listOutbox()) expect(mail.text).not.toContain(gid);

    // A member of the organization may not request one; another organization's admin cannot see this one.
    const invite = await call(`/organizations/${admin.organizationGid}/invitations`, { token: admin.token, body: { data: { email: `member-${Date.now()}@example.com`, role: 'member' } } });
    expect(invite.status).toBe(201);
    const outsider = await signUp('Not them');
    expect((await call(`/organization_exports/${gid}`, { token: outsider.token })).status).toBe(404);
    expect((await call('/organization_exports', { token: outsider.token, body: { data: { organization: admin.organizationGid } } })).status).toBe(404);
    // Bad input changes nothing: a malformed date is a 400 naming the field.
    const bad = await call('/organization_exports', { token: robot, body: { data: { organization: admin.organizationGid, modified_since: 'yesterday' } } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('modified_since');
  }, 60_000);
});
