/**
 * Concurrency (issue 7): many clients at once on the same account and the same task,
 * through the real API handler over PGlite (identityHarness, with the mail worker), and
 * once more through the local HTTP server.
 *
 * - 50 concurrent logins of one user from one new browser + IP: every login succeeds and
 *   exactly one login-detection email goes out (one known_logins row, one login event
 *   marked new, one outbox message).
 * - 20 clients PUT the same task at once, each writing a whole set of fields tagged with
 *   its number: every request succeeds or gets a clean 4xx/409; the final task is exactly
 *   one of the writes (no torn mix of fields); modified_at equals the time of the last
 *   committed write and never goes backwards for a reader polling while they run.
 *   Each request carries its own clock (AsyncLocalStorage), so every write has a known,
 *   distinct time.
 * - 20 clients add a follower and a tag each (while others edit the task): none is lost.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AsyncLocalStorage } from 'node:async_hooks';
import { rm } from 'node:fs/promises';
import type { Clock } from '../../lambdas/adapters/ports.js';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { CHEAP_AUTH, FIREFOX_WINDOWS, identityHarness, logIn, signUp, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { project as insertProject } from '../support/graph.js';
import { organizationWithRoles } from '../support/world.js';
import { seededDataDir } from './fixtures.js';

const ALERT = 'New login to your account';

let h: IdentityHarness;
beforeAll(async () => {
  h = await identityHarness();
}, 60_000);
afterAll(async () => {
  await h?.close();
});

/** Answers that are allowed under contention: success, or a clean refusal (409 or another 4xx with an error body). */
function cleanAnswer(res: Answer): boolean {
  if (res.status >= 200 && res.status < 300) return true;
  return res.status >= 400 && res.status < 500 && Array.isArray(res.body?.errors) && typeof res.body.errors[0]?.message === 'string';
}

describe('50 concurrent logins from one new browser + IP', () => {
  test('all succeed and exactly one login-detection email is sent', async () => {
    const u = await signUp(h, { ip: '203.0.113.50' });
    const results = await Promise.all(Array.from({ length: 50 }, () => logIn(h, u.email, u.password, { ip: '192.0.2.150', userAgent: FIREFOX_WINDOWS })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(new Set(results.map((r) => r.body.data.token)).size).toBe(50);
    await h.deliverMail();
    const alerts = h.mailTo(u.email).filter((m) => m.subject === ALERT);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain('192.0.2.150');
    expect(alerts[0]!.text).toContain('Firefox on Windows');

    const user = await h.engine.db.selectFrom('users').select('gid').where('email', '=', u.email).executeTakeFirstOrThrow();
    const known = await h.engine.db.selectFrom('known_logins').select('combo_hmac').where('user_gid', '=', user.gid).execute();
    expect(known).toHaveLength(2); // the sign-up's combination and the new one
    const events = await h.engine.db.selectFrom('login_events').select(['was_new', 'method']).where('user_gid', '=', user.gid).execute();
    expect(events).toHaveLength(51);
    expect(events.filter((e) => e.was_new && e.method === 'password')).toHaveLength(1);
    // One outbox message (the transactional record of the alert), delivered.
    const loginKeys = (await h.engine.db.selectFrom('login_events').select('gid').where('user_gid', '=', user.gid).execute()).map((e) => `login-alert:${e.gid}`);
    const outbox = await h.engine.db.selectFrom('outbox_messages').select(['dedupe_key', 'dispatched_at']).where('dedupe_key', 'in', loginKeys).execute();
    expect(outbox.map((o) => o.dispatched_at !== null)).toEqual([true]);
    // Delivering again (the relay, a redelivered queue message) sends nothing more.
    h.clock.advance(3_600_000);
    await h.deliverMail();
    expect(h.mailTo(u.email).filter((m) => m.subject === ALERT)).toHaveLength(1);
  }, 60_000);
});

describe('20 clients editing one task at once', () => {
  let org: Awaited<ReturnType<typeof organizationWithRoles>>;
  let projectGid: string;
  let others: { gid: string; name: string; email: string }[];
  beforeAll(async () => {
    org = await organizationWithRoles(h, 'Concurrency org');
    projectGid = await insertProject(h, org.org.gid, { members: [{ gid: org.member.gid, access: 'editor' }], owner: org.member.gid });
    // Twenty more members of the organization (no sessions needed: they are only followed), in two statements.
    const now = h.clock.now();
    others = Array.from({ length: 20 }, (_, i) => ({ gid: h.deps.ids.gid(), name: `Follower ${i}`, email: `follower-${i}-${Date.now().toString(36)}@example.com` }));
    await h.engine.db.insertInto('users').values(others.map((o) => ({ gid: o.gid, email: o.email, name: o.name, created_at: now, modified_at: now, deleted_at: null, password_hash: null, password_changed_at: null }))).execute();
    await h.engine.db.insertInto('organization_memberships').values(others.map((o) => ({ gid: h.deps.ids.gid(), organization_gid: org.org.gid, user_gid: o.gid, role: 'member' as const, created_at: now }))).execute();
  }, 60_000);

  const api = (token: string, method: string, path: string, data?: unknown) => apiCall(h, token, method, path, data);

  async function newTask(name: string): Promise<string> {
    const res = await api(org.member.token, 'POST', '/tasks', { name, projects: [projectGid] });
    expect(res.status).toBe(201);
    return res.body.data.gid;
  }

  /** The whole write of client i: every field says i. */
  const write = (i: number) => ({
    name: `written by client ${i}`,
    notes: `notes of client ${i}`,
    completed: i % 2 === 0,
    due_on: `2031-01-${String(i + 1).padStart(2, '0')}`,
    assignee: i % 3 === 0 ? null : i % 3 === 1 ? org.member.gid : org.admin.gid,
    resource_subtype: i % 4 === 0 ? 'milestone' : 'default_task',
  });
  /** Which client a task's fields come from, field by field. */
  const writers = (task: Record<string, any>) => ({
    name: Number(/client (\d+)$/.exec(task.name)?.[1] ?? -1),
    notes: Number(/client (\d+)$/.exec(task.notes)?.[1] ?? -1),
    due_on: Number(task.due_on?.slice(8)) - 1,
  });

  test('every PUT succeeds or is refused cleanly; the task (and every version readers see) is one whole write; modified_at is the latest write time and never goes backwards', async () => {
    const gid = await newTask('contended');
    const base = h.clock.now().getTime();
    // Each request gets its own clock: client i writes at base + 1 s + i ms (distinct, known times).
    const store = new AsyncLocalStorage<Date>();
    const shared = h.deps.clock;
    const perRequest: Clock = { now: () => store.getStore() ?? shared.now() };
    h.deps.clock = perRequest;
    const at = (i: number) => new Date(base + 1000 + i);
    const observed: string[] = [];
    let writing = true;
    try {
      // Three readers poll the task while the writes run: every version they see is whole, and time never goes back.
      const torn: string[] = [];
      const reader = async () => {
        let previous = 0;
        while (writing) {
          const res = await api(org.member.token, 'GET', `/tasks/${gid}`);
          expect(res.status).toBe(200);
          const t = Date.parse(res.body.data.modified_at);
          if (t < previous) torn.push(`modified_at went back from ${new Date(previous).toISOString()} to ${res.body.data.modified_at}`);
          previous = t;
          observed.push(res.body.data.modified_at);
          const w = writers(res.body.data);
          if (res.body.data.name !== 'contended' && new Set(Object.values(w)).size !== 1) torn.push(`a torn version: ${JSON.stringify(w)}`);
        }
      };
      const readers = Promise.all([reader(), reader(), reader()]);
      // Issued in a shuffled order, so the order of the times is not the order of arrival.
      const order = Array.from({ length: 20 }, (_, i) => i).sort(() => Math.random() - 0.5);
      const answers = new Map<number, Answer>();
      await Promise.all(order.map((i) => store.run(at(i), async () => answers.set(i, await api(org.member.token, 'PUT', `/tasks/${gid}`, write(i))))));
      writing = false;
      await readers;
      expect(torn).toEqual([]);

      for (const [i, res] of answers) expect({ i, clean: cleanAnswer(res), status: res.status }).toEqual({ i, clean: true, status: res.status });
      const committed = [...answers].filter(([, r]) => r.status === 200).map(([i]) => i);
      expect(committed.length).toBeGreaterThan(0);
      // Each answer shows the task as it was right after that write or later: never older than the write itself.
      for (const i of committed) expect(Date.parse(answers.get(i)!.body.data.modified_at)).toBeGreaterThanOrEqual(at(i).getTime());

      const final = (await api(org.member.token, 'GET', `/tasks/${gid}`)).body.data;
      const w = writers(final);
      // One writer for every field: no torn mix.
      expect(new Set(Object.values(w)).size).toBe(1);
      const last = w.name;
      expect(committed).toContain(last);
      const expected = write(last);
      expect({ completed: final.completed, assignee: final.assignee?.gid ?? null, resource_subtype: final.resource_subtype }).toEqual({ completed: expected.completed, assignee: expected.assignee, resource_subtype: expected.resource_subtype });

      // modified_at: the time of the last committed write (the latest time of all, as greatest() keeps it), never older than what a reader saw.
      for (const t of observed) expect(Date.parse(final.modified_at)).toBeGreaterThanOrEqual(Date.parse(t));
      expect(Date.parse(final.modified_at)).toBe(Math.max(...committed.map((i) => at(i).getTime())));
      process.stdout.write(`concurrent PUTs: ${committed.length}/20 committed, last writer ${last}, reader saw ${observed.length} versions\n`);
    } finally {
      writing = false;
      h.deps.clock = shared;
    }
  }, 60_000);

  test('with a clock that moves on (as the system clock does), modified_at is the time of the last committed write', async () => {
    // The same contention with a clock that ticks on every reading; each request records what it read.
    const gid = await newTask('contended, ticking clock');
    const store = new AsyncLocalStorage<number[]>();
    const shared = h.deps.clock;
    let tick = h.clock.now().getTime() + 60_000;
    h.deps.clock = {
      now: () => {
        const t = ++tick;
        store.getStore()?.push(t);
        return new Date(t);
      },
    };
    try {
      const readings = Array.from({ length: 20 }, () => [] as number[]);
      const answers = await Promise.all(readings.map((r, i) => store.run(r, () => api(org.member.token, 'PUT', `/tasks/${gid}`, write(i)))));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      const final = (await api(org.member.token, 'GET', `/tasks/${gid}`)).body.data;
      const w = writers(final);
      expect(new Set(Object.values(w)).size).toBe(1);
      // The write's time is the last clock reading of its request before it wrote (the use case reads it once, after authentication).
      const last = w.name;
      expect(Date.parse(final.modified_at)).toBe(Math.max(...readings[last]!));
    } finally {
      h.deps.clock = shared;
    }
  }, 60_000);

  test('concurrent addFollowers and addTag (with edits in between) lose nothing', async () => {
    const gid = await newTask('followed and tagged');
    const now = h.clock.now();
    const tags: string[] = [];
    for (let i = 0; i < 20; i++) {
      const t = h.deps.ids.gid();
      tags.push(t);
      await h.engine.db.insertInto('tags').values({ gid: t, organization_gid: org.org.gid, name: `Concurrent tag ${i}`, created_by: org.member.gid, created_at: now }).execute();
    }
    const calls: Promise<Answer>[] = [];
    for (let i = 0; i < 20; i++) {
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/addFollowers`, { followers: [others[i]!.gid] }));
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/addTag`, { tag: tags[i] }));
      if (i % 4 === 0) calls.push(api(org.member.token, 'PUT', `/tasks/${gid}`, { notes: `edit ${i}` }));
    }
    const answers = await Promise.all(calls);
    expect(answers.filter((r) => !cleanAnswer(r)).map((r) => `${r.status} ${JSON.stringify(r.body)}`)).toEqual([]);
    expect(answers.filter((r) => r.status >= 300)).toEqual([]);
    const task = (await api(org.member.token, 'GET', `/tasks/${gid}`)).body.data;
    const followers = new Set(task.followers.map((f: { gid: string }) => f.gid));
    expect(others.filter((o) => !followers.has(o.gid)).map((o) => o.name)).toEqual([]);
    expect(followers.has(org.member.gid)).toBe(true); // the creator still follows
    expect(new Set(task.tags.map((t: { gid: string }) => t.gid))).toEqual(new Set(tags));
    const rows = await h.engine.db.selectFrom('task_followers').select('user_gid').where('task_gid', '=', gid).execute();
    expect(rows).toHaveLength(21);
  }, 60_000);

  test('concurrent add and remove of the same follower and tag end in a state one of the orders gives', async () => {
    const gid = await newTask('add and remove');
    const tag = h.deps.ids.gid();
    await h.engine.db.insertInto('tags').values({ gid: tag, organization_gid: org.org.gid, name: 'Flip-flop tag', created_by: org.member.gid, created_at: h.clock.now() }).execute();
    const calls: Promise<Answer>[] = [];
    for (let i = 0; i < 10; i++) {
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/addFollowers`, { followers: [others[0]!.gid] }));
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/removeFollowers`, { followers: [others[0]!.gid] }));
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/addTag`, { tag }));
      calls.push(api(org.member.token, 'POST', `/tasks/${gid}/removeTag`, { tag }));
    }
    const answers = await Promise.all(calls);
    expect(answers.every((r) => r.status === 200)).toBe(true);
    // No duplicates, no orphans: at most one row each, and the answer agrees with the rows.
    const followerRows = await h.engine.db.selectFrom('task_followers').select('user_gid').where('task_gid', '=', gid).where('user_gid', '=', others[0]!.gid).execute();
    const tagRows = await h.engine.db.selectFrom('task_tags').select('tag_gid').where('task_gid', '=', gid).execute();
    expect(followerRows.length).toBeLessThanOrEqual(1);
    expect(tagRows.length).toBeLessThanOrEqual(1);
    const task = (await api(org.member.token, 'GET', `/tasks/${gid}`)).body.data;
    expect(task.followers.some((f: { gid: string }) => f.gid === others[0]!.gid)).toBe(followerRows.length === 1);
    expect(task.tags.length).toBe(tagRows.length);
  }, 60_000);
});

describe('the same over the local HTTP server', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await seededDataDir('reliability-concurrency-');
    runtime = await startLocal({ dataDir, port: 0, auth: CHEAP_AUTH, relayIntervalMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function http(method: string, path: string, init: { token?: string; data?: unknown; userAgent?: string } = {}) {
    const res = await fetch(`${runtime.baseUrl}${path}`, {
      method,
      headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...(init.data !== undefined ? { 'Content-Type': 'application/json' } : {}), 'User-Agent': init.userAgent ?? 'reliability-test' },
      ...(init.data !== undefined ? { body: JSON.stringify({ data: init.data }) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  test('50 concurrent logins send one email to the outbox; 20 concurrent PUTs leave one whole write; followers are not lost', async () => {
    const email = `concurrent-${Date.now().toString(36)}@example.com`;
    const password = 'a long enough passphrase';
    const signup = await http('POST', '/api/1.0/auth/signup', { data: { email, password, name: 'Local user', organization_name: 'Local org' }, userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' });
    expect(signup.status).toBe(201);
    const token = signup.body.data.token as string;
    const workspace = signup.body.data.organization.gid as string;

    // Logins from a new browser on the same address.
    const logins = await Promise.all(Array.from({ length: 50 }, () => http('POST', '/api/1.0/auth/login', { data: { email, password }, userAgent: FIREFOX_WINDOWS })));
    expect(logins.map((r) => r.status)).toEqual(Array(50).fill(200));
    const alerts = async () => ((await http('GET', '/_local/outbox')).body.data as { to: string[]; subject: string }[]).filter((m) => m.to.includes(email) && m.subject === ALERT);
    const deadline = Date.now() + 20_000;
    while ((await alerts()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // time for a (wrong) second one to arrive
    expect(await alerts()).toHaveLength(1);

    // One task, 20 concurrent whole writes.
    const task = await http('POST', '/api/1.0/tasks', { token, data: { name: 'local contended', workspace } });
    expect(task.status).toBe(201);
    const gid = task.body.data.gid as string;
    const puts = await Promise.all(Array.from({ length: 20 }, (_, i) => http('PUT', `/api/1.0/tasks/${gid}`, { token, data: { name: `local client ${i}`, notes: `local notes ${i}`, due_on: `2031-02-${String(i + 1).padStart(2, '0')}` } })));
    expect(puts.map((r) => r.status)).toEqual(Array(20).fill(200));
    const final = (await http('GET', `/api/1.0/tasks/${gid}`, { token })).body.data;
    const i = Number(/(\d+)$/.exec(final.name)![1]);
    expect({ notes: final.notes, due_on: final.due_on }).toEqual({ notes: `local notes ${i}`, due_on: `2031-02-${String(i + 1).padStart(2, '0')}` });
    expect(Date.parse(final.modified_at)).toBe(Math.max(...puts.map((r) => Date.parse(r.body.data.modified_at))));

    // Followers: invite-free members are needed; the signer-up adds themselves via "me" and 10 tags concurrently.
    const tagGids = await Promise.all(Array.from({ length: 10 }, async (_, k) => (await http('POST', `/api/1.0/workspaces/${workspace}/tags`, { token, data: { name: `local tag ${k}` } })).body.data.gid as string));
    const adds = await Promise.all([...tagGids.map((t) => http('POST', `/api/1.0/tasks/${gid}/addTag`, { token, data: { tag: t } })), http('POST', `/api/1.0/tasks/${gid}/addFollowers`, { token, data: { followers: ['me'] } })]);
    expect(adds.map((r) => r.status)).toEqual(Array(11).fill(200));
    const tagged = (await http('GET', `/api/1.0/tasks/${gid}`, { token })).body.data;
    expect(new Set(tagged.tags.map((t: { gid: string }) => t.gid))).toEqual(new Set(tagGids));
  }, 90_000);
});
