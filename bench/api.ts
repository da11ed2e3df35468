/**
 * The HTTP API under load: the local server (startLocal, production settings: scrypt
 * N=2^17, 1 MiB bodies, the real route table, queue workers and timers) in its own
 * process on a generated organization, driven by autocannon from the parent process.
 * The same reads are also measured without the HTTP stack (the domain calls the routes
 * make, in the server's process), so the overhead of HTTP + routing + authentication +
 * access checks shows as a ratio.
 */
import { createRequire } from 'node:module';
import { startLocal } from '../lambdas/local/runtime.js';
import { keysetPage } from '../lambdas/db/query.js';
import { taskVisible, viewerIn, type Viewer } from '../lambdas/domain/access/policy.js';
import { taskCompact } from '../lambdas/domain/work/present.js';
import { loadTaskViews } from '../lambdas/domain/work/task-views.js';
import type { Db } from '../lambdas/domain/work/common.js';

/** Every generated user's password (bench/data.ts gives them all the same hash). */
export const BENCH_PASSWORD = 'correct horse battery staple 42';

export interface ApiRow {
  route: string;
  /** 'http': autocannon against the server; 'direct': the route's domain calls in-process, one at a time. */
  kind: 'http' | 'direct';
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  requests: number;
  connections: number;
  duration_seconds: number;
  /** On HTTP reads: direct requests/s divided by HTTP requests/s. */
  http_overhead?: number;
  status_codes?: Record<string, number>;
}

// --- In the server's process -------------------------------------------------------------

export interface ServerArgs {
  dataDir: string;
  organizationGid: string;
  taskGid: string;
  projectGid: string;
  /** The member whose view the direct reads take. */
  viewerGid: string;
}

export interface ServerReady {
  baseUrl: string;
}

export interface DirectRequest {
  type: 'direct';
  read: 'task' | 'project_tasks';
  seconds: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

/** Calls `run` back to back for `seconds`: requests/s and latency percentiles. */
export async function loop(seconds: number, run: () => Promise<unknown>): Promise<Pick<ApiRow, 'requests_per_second' | 'p50_ms' | 'p99_ms' | 'requests' | 'errors'>> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    try {
      await run();
    } catch {
      errors += 1;
    }
    latencies.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests_per_second: latencies.length / elapsed, p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99), requests: latencies.length, errors };
}

/** The server child: starts the local runtime, answers direct-read requests, stops on request. */
export async function apiServer(args: ServerArgs, channel: { send(message: unknown): void; onMessage(handler: (message: unknown) => Promise<unknown>): void }): Promise<void> {
  const runtime = await startLocal({ dataDir: args.dataDir, port: 0 });
  const db: Db = runtime.deps.database.db;
  const baseUrl = `${runtime.baseUrl}/api/1.0`;
  const user = await db.selectFrom('users').selectAll().where('gid', '=', args.viewerGid).executeTakeFirstOrThrow();
  const viewer: Viewer = await viewerIn(db, { kind: 'user', user, sessionGid: 'bench' }, args.organizationGid);
  const reads = {
    // GET /tasks/{gid} without HTTP, routing, authentication or the visibility check: the task view itself.
    task: async () => {
      const view = (await loadTaskViews(db, [args.taskGid], viewer, baseUrl)).get(args.taskGid);
      if (!view) throw new Error('task not found');
    },
    // GET /projects/{gid}/tasks?limit=100 without HTTP: the route's keyset page with the visibility predicate, compacted.
    project_tasks: async () => {
      const base = db
        .selectFrom('tasks as t')
        .innerJoin('task_projects as tp', 'tp.task_gid', 't.gid')
        .select(['t.gid', 't.name', 't.resource_subtype', 'tp.position'])
        .where('tp.project_gid', '=', args.projectGid)
        .where(taskVisible(viewer, 't'));
      const page = await keysetPage(db, base, { keys: [{ column: 'position' }, { column: 'gid' }], limit: 100, after: null });
      if (page.rows.length === 0) throw new Error('no tasks');
      return page.rows.map((r) => taskCompact(r));
    },
  };
  channel.onMessage(async (message) => {
    const m = message as DirectRequest | { type: 'stop' };
    if (m.type === 'stop') {
      await runtime.close();
      process.exit(0);
    }
    await loop(Math.min(1, m.seconds / 4), reads[m.read]); // warm-up
    return loop(m.seconds, reads[m.read]);
  });
  channel.send({ ok: true, result: { baseUrl: runtime.baseUrl } satisfies ServerReady });
}

// --- In the parent: autocannon ---------------------------------------------------------------

interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}
interface AutocannonClient {
  setBody(body: string): void;
}
interface AutocannonOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  setupClient?: (client: AutocannonClient) => void;
}
type Autocannon = (options: AutocannonOptions, callback: (error: Error | null, result: AutocannonResult) => void) => unknown;

function cannon(options: AutocannonOptions): Promise<AutocannonResult> {
  // autocannon ships CommonJS without type declarations; loaded only where it runs (the parent).
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

export interface LoadTarget {
  route: string;
  method: 'GET' | 'POST';
  path: string;
  token?: string;
  body?: string;
  /** A body per connection (e.g. a different account for each). */
  bodyFor?: (connection: number) => string;
  connections: number;
  /** Requests before the measured run (default 5 per connection). */
  warmup?: number;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
}

export async function load(baseUrl: string, target: LoadTarget, seconds: number): Promise<ApiRow> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (bench) autocannon' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let client = 0;
  const options: AutocannonOptions = {
    url: `${baseUrl}${target.path}`,
    method: target.method,
    headers,
    connections: target.connections,
    timeout: 30,
    ...(target.body !== undefined ? { body: target.body } : {}),
    ...(target.bodyFor ? { setupClient: (c: AutocannonClient) => c.setBody(target.bodyFor!(client++)) } : {}),
  };
  // Warm-up (JIT, caches, pools, first logins): a fixed number of requests, so none is left
  // running on the server when the measured run starts.
  await cannon({ ...options, amount: target.warmup ?? target.connections * 5 });
  client = 0;
  const result = await cannon(target.amount ? { ...options, amount: target.amount } : { ...options, duration: seconds });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, Number(s.count)]));
  return {
    route: target.route,
    kind: 'http',
    requests_per_second: result.requests.total / result.duration,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    requests: result.requests.total,
    connections: target.connections,
    duration_seconds: result.duration,
    status_codes: statusCodes,
  };
}

/** Logs in over HTTP; the session token. */
export async function logIn(baseUrl: string, email: string): Promise<string> {
  const res = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (bench) setup' }, body: JSON.stringify({ data: { email, password: BENCH_PASSWORD } }) });
  const body = (await res.json()) as { data?: { token?: string } };
  if (res.status !== 200 || !body.data?.token) throw new Error(`login as ${email} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.data.token;
}
