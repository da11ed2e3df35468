/** The demo organization: realistic, access rules applied, logins printed by npm start work. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { DEMO_LOGINS, seedDemo } from '../../lambdas/local/seed.js';
import { logger } from '../../lambdas/shared/logger.js';
import { CHEAP_AUTH } from '../support/identity.js';

let runtime: LocalRuntime;
let dataDir: string;
beforeAll(async () => {
  logger.setLogLevel('SILENT');
  dataDir = await mkdtemp(join(tmpdir(), 'seed-'));
  runtime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH });
});
afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function login(email: string) {
  const password = DEMO_LOGINS.find((l) => l.email === email)!.password;
  const res = await fetch(`${runtime.baseUrl}/api/1.0/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: { email, password } }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { token: string } }).data.token;
}
const get = async (token: string, path: string) => {
  const res = await fetch(`${runtime.baseUrl}/api/1.0${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
};

test('seeds once, with every kind of object, and the access rules hold in it', async () => {
  const first = await seedDemo(runtime.deps);
  expect(first.created).toBe(true);
  expect((await seedDemo(runtime.deps)).created).toBe(false);
  const db = runtime.deps.database.db;
  const count = async (table: 'teams' | 'projects' | 'sections' | 'tasks' | 'stories' | 'story_likes' | 'task_likes' | 'tags' | 'custom_fields' | 'attachments' | 'messages' | 'project_statuses') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  for (const table of ['teams', 'projects', 'sections', 'tasks', 'stories', 'story_likes', 'task_likes', 'tags', 'custom_fields', 'attachments', 'messages', 'project_statuses'] as const) expect(await count(table)).toBeGreaterThan(0);
  expect(await db.selectFrom('tasks').select('gid').where('parent_gid', 'is not', null).execute()).not.toHaveLength(0);
  expect(await db.selectFrom('tasks').select('gid').where('deleted_at', 'is not', null).execute()).toHaveLength(2);
  expect(await db.selectFrom('projects').select('gid').where('deleted_at', 'is not', null).execute()).toHaveLength(1);

  const ada = await login('ada@demo.example');
  const guest = await login('guest@demo.example');
  const org = first.organizationGid;
  const adaProjects = (await get(ada, `/workspaces/${org}/projects`)).body.data.map((p: { name: string }) => p.name).sort();
  expect(adaProjects).toEqual(['Analytical Engine', 'Funding 1843', 'Notes on the Engine']);
  const guestProjects = (await get(guest, `/workspaces/${org}/projects`)).body.data.map((p: { name: string }) => p.name);
  expect(guestProjects).toEqual(['Notes on the Engine']);
  const mary = await login('mary@demo.example');
  expect((await get(mary, `/workspaces/${org}/projects`)).body.data.map((p: { name: string }) => p.name)).not.toContain('Funding 1843');
});
