/**
 * Load (issue 7): 60 s of mixed traffic on the local server (reads, writes, searches,
 * exports) from concurrent clients, with two requirements:
 *
 * - no errors: no 5xx, no socket errors, no timeouts; every answer is the one its
 *   request should get (2xx);
 * - stable memory: the server runs in a process of its own (test/reliability/load-server.ts,
 *   with --expose-gc) and reports its heap and RSS after a full collection every few
 *   seconds. After a warm-up, a least-squares line through the samples must grow less
 *   than the bounds below.
 *
 * The bounds. The heap after a full collection is what the server retains. Nothing the
 * traffic creates should stay on it: tasks, stories and sessions live in the database
 * (PGlite), and what does grow is V8's warm-up (compiled code, inline caches), which
 * levels off (the API handler alone, measured in a loop: about 600 B per request over the
 * first 2,000 requests, then 20 B, i.e. noise). HEAP_MB_PER_MIN = 10 is half the 20 MB/min
 * the issue suggests: far above warm-up and noise (about 1 MB/min here), and a leak of a
 * few kilobytes per request (a retained request, response or query result) crosses it at
 * the rates a quiet machine serves (the figures printed give this run's rate and growth
 * per request). RSS also holds PGlite's WebAssembly memory, which grows (and never
 * shrinks) while PostgreSQL's buffer cache and the growing tables fill it, plus the
 * allocator's arenas; its bound, RSS_MB_PER_MIN = 120, catches a runaway, not a leak.
 *
 * LOAD_SECONDS changes the duration (default 60).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededDataDir } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const WARMUP_SECONDS = Math.min(15, SECONDS / 4);
const SAMPLE_EVERY_MS = 3000;
const CLIENTS = 8;
const HEAP_MB_PER_MIN = 10;
const RSS_MB_PER_MIN = 120;

interface MemorySample {
  at: number;
  heapUsed: number;
  rss: number;
  external: number;
}

let child: ChildProcess;
let dataDir: string;
let baseUrl: string;
const memoryReplies = new Map<number, (m: NodeJS.MemoryUsage) => void>();

beforeAll(async () => {
  dataDir = await seededDataDir('reliability-load-');
  const env: NodeJS.ProcessEnv = { ...process.env, LOCAL_DATA_DIR: dataDir };
  delete env.NODE_OPTIONS;
  child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'test', 'reliability', 'load-server.ts')], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the load server did not start within 90 s')), 90_000);
    child.on('message', (m: { ready?: string; memory?: NodeJS.MemoryUsage; n?: number }) => {
      if (m.ready) {
        clearTimeout(timer);
        resolve(m.ready);
      }
      if (m.memory && m.n !== undefined) memoryReplies.get(m.n)?.(m.memory);
    });
    child.once('exit', (code) => reject(new Error(`the load server exited with ${code}`)));
  });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ stop: true });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

let sampleCounter = 0;
function sampleMemory(): Promise<NodeJS.MemoryUsage> {
  const n = ++sampleCounter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no memory sample within 10 s')), 10_000);
    memoryReplies.set(n, (m) => {
      clearTimeout(timer);
      memoryReplies.delete(n);
      resolve(m);
    });
    child.send({ sample: n });
  });
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MB = 1024 * 1024;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

describe('60 s of mixed traffic on the local server', () => {
  test('no errors, and the server memory stays flat', async () => {
    async function call(method: string, path: string, init: { token?: string; data?: unknown } = {}) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...(init.data !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(init.data !== undefined ? { body: JSON.stringify({ data: init.data }) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.text();
      return { status: res.status, body, json: () => JSON.parse(body) };
    }

    // The data: one account, a project to read and export (100 tasks), one to write into, tags.
    const signup = await call('POST', '/api/1.0/auth/signup', { data: { email: `load-${Date.now().toString(36)}@example.com`, password: 'a long enough passphrase', name: 'Load tester', organization_name: 'Load org' } });
    expect(signup.status).toBe(201);
    const token = signup.json().data.token as string;
    const workspace = signup.json().data.organization.gid as string;
    const mkProject = async (name: string) => (await call('POST', '/api/1.0/projects', { token, data: { name, workspace } })).json().data.gid as string;
    const readProject = await mkProject('Read and export');
    const writeProject = await mkProject('Write here');
    const readTasks: string[] = [];
    for (let i = 0; i < 100; i += 10) {
      const created = await Promise.all(Array.from({ length: 10 }, (_, k) => call('POST', '/api/1.0/tasks', { token, data: { name: `Reading task ${i + k} alpha`, notes: `notes ${i + k} ${'lorem ipsum '.repeat(20)}`, projects: [readProject] } })));
      for (const c of created) readTasks.push(c.json().data.gid);
    }
    const tags = await Promise.all(Array.from({ length: 5 }, async (_, k) => (await call('POST', `/api/1.0/workspaces/${workspace}/tags`, { token, data: { name: `load tag ${k}` } })).json().data.gid as string));

    // The traffic mix: [weight, expected status, request].
    const written: string[] = [];
    const disposable: string[] = [];
    let created = 0;
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    type Op = { name: string; weight: number; run: () => Promise<{ status: number; body: string; json: () => any }>; ok: (s: number) => boolean };
    const ok2xx = (s: number) => s >= 200 && s < 300;
    const ops: Op[] = [
      { name: 'get task', weight: 20, ok: ok2xx, run: () => call('GET', `/api/1.0/tasks/${pick(readTasks)}`, { token }) },
      { name: 'list project tasks', weight: 10, ok: ok2xx, run: () => call('GET', `/api/1.0/projects/${readProject}/tasks?limit=50&opt_fields=name,completed,assignee.name`, { token }) },
      { name: 'me', weight: 5, ok: ok2xx, run: () => call('GET', '/api/1.0/users/me', { token }) },
      { name: 'list projects', weight: 5, ok: ok2xx, run: () => call('GET', `/api/1.0/workspaces/${workspace}/projects`, { token }) },
      { name: 'search', weight: 10, ok: ok2xx, run: () => call('GET', `/api/1.0/workspaces/${workspace}/tasks/search?text=${pick(['alpha', 'task', 'load', 'nothing'])}&limit=20`, { token }) },
      {
        name: 'create task',
        weight: 12,
        ok: ok2xx,
        run: async () => {
          const res = await call('POST', '/api/1.0/tasks', { token, data: { name: `load task ${Math.random().toString(36).slice(2)}`, notes: 'written under load', projects: [writeProject] } });
          // Every other new task may be deleted later; updates and tags go to the ones that stay.
          if (res.status === 201) (++created % 2 ? written : disposable).push(res.json().data.gid);
          return res;
        },
      },
      { name: 'update task', weight: 10, ok: ok2xx, run: () => call('PUT', `/api/1.0/tasks/${pick(written.length ? written : readTasks)}`, { token, data: { notes: `updated ${Date.now()}`, completed: Math.random() < 0.5 } }) },
      { name: 'comment', weight: 6, ok: ok2xx, run: () => call('POST', `/api/1.0/tasks/${pick(readTasks)}/stories`, { token, data: { text: `comment ${Date.now()}` } }) },
      { name: 'tag', weight: 4, ok: ok2xx, run: () => call('POST', `/api/1.0/tasks/${pick(written.length ? written : readTasks)}/addTag`, { token, data: { tag: pick(tags) } }) },
      { name: 'delete task', weight: 2, ok: ok2xx, run: () => (disposable.length ? call('DELETE', `/api/1.0/tasks/${disposable.shift()!}`, { token }) : call('GET', '/api/1.0/health')) },
      { name: 'export csv', weight: 3, ok: ok2xx, run: () => call('GET', `/api/1.0/projects/${readProject}/export.csv`, { token }) },
      { name: 'export json', weight: 3, ok: ok2xx, run: () => call('GET', `/api/1.0/projects/${readProject}/export.json`, { token }) },
    ];
    const total = ops.reduce((s, o) => s + o.weight, 0);
    const choose = () => {
      let r = Math.random() * total;
      for (const o of ops) if ((r -= o.weight) < 0) return o;
      return ops[0]!;
    };

    const counts = new Map<string, number>();
    const errors: string[] = [];
    const latencies: number[] = [];
    const samples: MemorySample[] = [];
    const started = Date.now();
    const deadline = started + SECONDS * 1000;
    let done = 0;

    const client = async () => {
      while (Date.now() < deadline) {
        const op = choose();
        const t = performance.now();
        try {
          const res = await op.run();
          latencies.push(performance.now() - t);
          if (!op.ok(res.status)) errors.push(`${op.name}: ${res.status} ${res.body.slice(0, 200)}`);
        } catch (error) {
          errors.push(`${op.name}: ${(error as Error).message} ${((error as Error).cause as Error | undefined)?.message ?? ''}`);
        }
        counts.set(op.name, (counts.get(op.name) ?? 0) + 1);
        done++;
      }
    };
    const sampler = async () => {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
        const m = await sampleMemory();
        samples.push({ at: (Date.now() - started) / 1000, heapUsed: m.heapUsed, rss: m.rss, external: m.external });
      }
    };
    await Promise.all([...Array.from({ length: CLIENTS }, client), sampler()]);
    const elapsed = (Date.now() - started) / 1000;

    // The figures.
    const steady = samples.filter((s) => s.at >= WARMUP_SECONDS);
    const heapSlope = slope(steady.map((s) => [s.at / 60, s.heapUsed / MB]));
    const rssSlope = slope(steady.map((s) => [s.at / 60, s.rss / MB]));
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      [
        `load: ${done} requests in ${elapsed.toFixed(1)} s (${(done / elapsed).toFixed(0)}/s) from ${CLIENTS} clients, ${errors.length} errors`,
        `  latency ms: p50 ${percentile(sorted, 0.5).toFixed(1)}, p90 ${percentile(sorted, 0.9).toFixed(1)}, p99 ${percentile(sorted, 0.99).toFixed(1)}, max ${(sorted.at(-1) ?? 0).toFixed(1)}`,
        `  mix: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `  server memory after GC (MB), t=s: ${samples.map((s) => `${s.at.toFixed(0)}:${(s.heapUsed / MB).toFixed(1)}/${(s.rss / MB).toFixed(0)}`).join(' ')}  (heap/rss)`,
        `  trend after ${WARMUP_SECONDS} s warm-up: heap ${heapSlope.toFixed(2)} MB/min (bound ${HEAP_MB_PER_MIN}; ${((heapSlope * MB) / ((done / elapsed) * 60)).toFixed(0)} B per request), rss ${rssSlope.toFixed(2)} MB/min (bound ${RSS_MB_PER_MIN})`,
        '',
      ].join('\n'),
    );

    expect(errors.slice(0, 20)).toEqual([]);
    expect(done).toBeGreaterThan(SECONDS * 5); // it really ran traffic (the figures above say how much)
    expect(steady.length).toBeGreaterThanOrEqual(5);
    expect(heapSlope).toBeLessThan(HEAP_MB_PER_MIN);
    expect(rssSlope).toBeLessThan(RSS_MB_PER_MIN);
  }, (SECONDS + 120) * 1000);
});
