/**
 * Issue #7, faults: the export and mail workers run with adapters that fail at random
 * points (database, blob store, mailer, queue), driven by fast-check.
 *
 * - One fault injector wraps every port. The database is wrapped at the Kysely driver:
 *   every statement and BEGIN (port `db`) and every COMMIT (port `commit`) of every
 *   caller goes through it; the blob store, mailer and queue at their port methods. A
 *   schedule says, per port, after how many calls the next fault comes, how many
 *   consecutive calls it lasts (up to an outage lasting until the faults stop) and how
 *   the calls go wrong: `before` taking effect, `after` (the effect happened and the
 *   answer is lost: a COMMIT that committed, a mail that was accepted), or `slow` (the
 *   clock jumps past the function timeout and the leases while the call stalls; the
 *   relays run and the queue delivers meanwhile, so another invocation takes over and
 *   the stalled one goes on as a zombie).
 * - Exports: requested (under faults) organization exports and team CSVs of a few
 *   hundred real rows, and a synthetic 6 MiB document written in two parts by two
 *   invocations (a hand-off), run through the LocalQueue with the real export worker,
 *   mail worker and dead-letter consumer (registerWorkers), two consumers per queue, the
 *   scheduled relays (relayStalledExports, relayDueMail) and a ManualClock driving the
 *   visibility timeouts. Then the faults stop and rounds continue until every job has
 *   ended, every email is dispatched and both queues are empty. Every job is then either
 *   finished, with exactly one stored file whose size and SHA-256 match its manifest and
 *   whose text is the document rendered in one go, and exactly one "ready" email naming
 *   that manifest; or in error, with exactly one "failed" email. Between rounds, while
 *   faults still run, no finished job lacks any of its file.
 * - Login alerts: password logins through the real API handler from known and new
 *   browser + IP combinations while the database, mailer and queue fail; afterwards every
 *   committed new combination has exactly one alert outbox row, sent to its user (by the
 *   X-Outbox-Id header), no combination is alerted twice, and every login answered 200
 *   from a new combination is among them.
 * - Fixed examples run first whatever the seed, so each path is taken: outages of the
 *   blob store (jobs dead-lettered, failed with an email), the queue (the relay rescues
 *   lost sends) and the mailer; lost answers of statements and COMMITs.
 *
 * A mail can be sent twice only when its first send's fate was unknowable: the mailer
 * accepted it and answered an error (or stalled past the outbox lease), or the statement
 * recording the dispatch failed or stalled (an SES send is not idempotent). The checks
 * count sends per X-Outbox-Id and allow a second send only for those outbox rows; a
 * mail client deduplicates them by that header.
 *
 * The seed is printed; rerun with FAULTS_SEED=<seed>, and FAULTS_RUNS=<n> for n runs per
 * property (FAULTS_VERBOSE=1 prints each run's calls and faults).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Kysely, type CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type TransactionSettings } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { cryptoIds } from '../../lambdas/adapters/ids.js';
import type { BlobStore, MailMessage, Mailer, Queue } from '../../lambdas/adapters/ports.js';
import { LocalQueue } from '../../lambdas/adapters/queue/local-queue.js';
import { type Database } from '../../lambdas/db/database.js';
import { openPglite } from '../../lambdas/db/local-engines.js';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { users } from '../../lambdas/db/repositories/users.js';
import type { DB, ExportKind } from '../../lambdas/db/schema.js';
import { parseUserAgent } from '../../lambdas/domain/auth/devices.js';
import { hashPassword } from '../../lambdas/domain/auth/passwords.js';
import { completeLogin, type Principal } from '../../lambdas/domain/auth/sessions.js';
import { buildOrganizationExport } from '../../lambdas/domain/exports/organization-export.js';
import { downloadLink, relayStalledExports, requestExport, type ExportManifest } from '../../lambdas/domain/exports/jobs.js';
import { renderPlanToString, type ExportJobContext, type ExportPlan } from '../../lambdas/domain/exports/plan.js';
import { buildTeamCsvExport } from '../../lambdas/domain/exports/team-csv.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import type { AppDeps } from '../../lambdas/http/deps.js';
import { routes } from '../../lambdas/http/route-table.js';
import { registerWorkers } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';
import { MIN_PART_BYTES, type PlanBuilder } from '../../lambdas/workers/exports.js';
import { relayDueMail } from '../../lambdas/workers/mail.js';
import { ensurePgliteTemplate } from '../support/engines.js';
import { apiEvent, testSecrets } from '../support/http.js';
import { CHEAP_AUTH, CHROME_MAC, FIREFOX_WINDOWS } from '../support/identity.js';

// --- Fault injection -------------------------------------------------------------------

/** `db` is every statement and BEGIN; `commit` the COMMITs (rarer, so scheduled apart to be hit as often). */
type Port = 'db' | 'commit' | 'blobs' | 'mailer' | 'queue';
const PORTS: Port[] = ['db', 'commit', 'blobs', 'mailer', 'queue'];

/**
 * After `gap` more calls of its port, `length` consecutive calls go wrong: `before` they
 * take effect (an error), `after` (the effect happened, the answer is an error), or
 * `slow`: the call stalls for SLOW_MS of the clock (past the function's timeout and its
 * lease, so the queue redelivers and another invocation may take over) and then goes on,
 * as a zombie whose late writes must be fenced off.
 */
type FaultMode = 'before' | 'after' | 'slow';
interface FaultSpec {
  gap: number;
  length: number;
  mode: FaultMode;
}
type Schedule = Record<Port, FaultSpec[]>;

class InjectedFault extends Error {
  override name = 'InjectedFault';
}

interface PortState {
  specs: FaultSpec[];
  index: number;
  countdown: number;
  burst: number;
  mode: FaultMode;
}

const emptySchedule = (): Schedule => ({ db: [], commit: [], blobs: [], mailer: [], queue: [] });

class Faults {
  /** Off during setup and checks (those calls are not counted). */
  enabled = false;
  readonly calls: Record<Port, number> = { db: 0, commit: 0, blobs: 0, mailer: 0, queue: 0 };
  readonly injected: Record<Port, number> = { db: 0, commit: 0, blobs: 0, mailer: 0, queue: 0 };
  /** Outbox rows whose mail may have been sent more than once without anyone knowing (see the header). */
  readonly ambiguousMail = new Set<string>();
  #ports = {} as Record<Port, PortState>;
  /** Called while a slow call stalls (not awaited by it). */
  onSlow: (() => void) | undefined;

  constructor() {
    this.load(emptySchedule());
  }

  load(schedule: Schedule): void {
    for (const port of PORTS) {
      const specs = schedule[port];
      this.#ports[port] = { specs, index: 0, countdown: specs[0]?.gap ?? 0, burst: 0, mode: 'before' };
    }
  }

  /** The fate of the next call of a port: null (it goes through), or how it fails. */
  #decide(port: Port): FaultMode | null {
    if (!this.enabled) return null;
    this.calls[port] += 1;
    const state = this.#ports[port];
    let mode: FaultMode | null = null;
    if (state.burst > 0) {
      state.burst -= 1;
      mode = state.mode;
    } else if (state.index < state.specs.length) {
      if (state.countdown > 0) state.countdown -= 1;
      else {
        const spec = state.specs[state.index++]!;
        state.burst = spec.length - 1;
        state.mode = spec.mode;
        state.countdown = state.specs[state.index]?.gap ?? 0;
        mode = spec.mode;
      }
    }
    if (mode) this.injected[port] += 1;
    return mode;
  }

  async run<T>(port: Port, what: string, op: () => Promise<T>, options: { beforeOnly?: boolean; onFault?: (mode: FaultMode) => void } = {}): Promise<T> {
    let mode = this.#decide(port);
    if (mode && mode !== 'before' && options.beforeOnly) mode = 'before';
    if (mode) options.onFault?.(mode);
    if (mode === 'before') throw new InjectedFault(`injected ${port} fault: ${what} failed`);
    if (mode === 'slow') {
      clock.advance(SLOW_MS);
      // Meanwhile the world goes on: the scheduled relays run and the queue delivers what they sent.
      this.onSlow?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await op();
    if (mode === 'after') throw new InjectedFault(`injected ${port} fault: ${what} took effect, its answer was lost`);
    return result;
  }
}

const faults = new Faults();

/** markDispatched's statement (outbox.ts): if it never ran, or ran after the lease ended, the mail just sent is sent again. */
const MARK_DISPATCHED = /^update "outbox_messages" set "dispatched_at" = /;
/** The mail worker's claim (outbox.claim): stalled past its own lease, another delivery may claim and send too. */
const CLAIM_ONE = /^update "outbox_messages" set "available_at" = \$1, "attempts" = attempts \+ 1 where "gid" = /;

/** The value bound to `"gid" = $n` in a statement. */
function boundGid(query: CompiledQuery): string {
  const n = /"gid" = \$(\d+)/.exec(query.sql)?.[1];
  return n ? String(query.parameters[Number(n) - 1]) : '';
}

function noteAmbiguousMail(query: CompiledQuery, mode: FaultMode) {
  if (MARK_DISPATCHED.test(query.sql) && mode !== 'after') faults.ambiguousMail.add(boundGid(query));
  if (CLAIM_ONE.test(query.sql) && mode === 'slow') faults.ambiguousMail.add(boundGid(query));
}

/**
 * A Kysely driver that runs every statement, BEGIN and COMMIT through the injector.
 * BEGIN fails only before taking effect and ROLLBACK never fails: on the single PGlite
 * connection a transaction left open would swallow every later statement (a real pool
 * discards such a connection).
 */
class FaultyDriver implements Driver {
  readonly #originals = new WeakMap<DatabaseConnection, DatabaseConnection>();
  constructor(private readonly inner: Driver) {}

  init() {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    const wrapped: DatabaseConnection = {
      executeQuery: (query: CompiledQuery) =>
        faults.run('db', query.sql.slice(0, 60), () => connection.executeQuery(query), { onFault: (mode) => noteAmbiguousMail(query, mode) }),
      streamQuery: (query: CompiledQuery, chunkSize?: number) => connection.streamQuery(query, chunkSize),
    } as DatabaseConnection;
    this.#originals.set(wrapped, connection);
    return wrapped;
  }

  #original(connection: DatabaseConnection): DatabaseConnection {
    return this.#originals.get(connection) ?? connection;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return faults.run('db', 'BEGIN', () => this.inner.beginTransaction(this.#original(connection), settings), { beforeOnly: true });
  }

  commitTransaction(connection: DatabaseConnection) {
    return faults.run('commit', 'COMMIT', () => this.inner.commitTransaction(this.#original(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection) {
    return this.inner.rollbackTransaction(this.#original(connection));
  }

  releaseConnection(connection: DatabaseConnection) {
    return this.inner.releaseConnection(this.#original(connection));
  }

  destroy() {
    return this.inner.destroy();
  }
}

async function faultyDatabase(): Promise<Database> {
  const pglite = await openPglite(undefined, new Blob([await readFile(await ensurePgliteTemplate())]));
  const inner = new PGliteDialect(pglite);
  const dialect: Dialect = {
    createAdapter: () => inner.createAdapter(),
    createDriver: () => new FaultyDriver(inner.createDriver()),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
  };
  const db = new Kysely<DB>({ dialect });
  return { db, engine: 'pglite', close: () => db.destroy() };
}

const BLOB_METHODS = ['put', 'get', 'head', 'delete', 'signedGetUrl', 'signedPutUrl', 'createMultipartUpload', 'uploadPart', 'completeMultipartUpload', 'abortMultipartUpload'] as const;

function faultyBlobs(base: BlobStore): BlobStore {
  return Object.fromEntries(BLOB_METHODS.map((m) => [m, (...args: unknown[]) => faults.run('blobs', m, () => (base[m] as (...a: unknown[]) => Promise<unknown>).apply(base, args))])) as unknown as BlobStore;
}

/** Records every accepted message; a fault "after" means it was accepted and the caller was told it failed. */
class FaultyMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage) {
    const outboxId = message.headers?.['X-Outbox-Id'] ?? '';
    return faults.run(
      'mailer',
      'send',
      async () => {
        this.sent.push(message);
        return { messageId: `mail-${this.sent.length}` };
      },
      // Accepted but reported failed, or so slow that the outbox lease ran out and another delivery may send it too.
      { onFault: (mode) => mode !== 'before' && faults.ambiguousMail.add(outboxId) },
    );
  }
  byOutboxId(gid: string): MailMessage[] {
    return this.sent.filter((m) => m.headers?.['X-Outbox-Id'] === gid);
  }
}

function faultyQueue(base: Queue): Queue {
  return { send: (queue, body, options) => faults.run('queue', `send to ${queue}`, () => base.send(queue, body, options)) };
}

/** A fault that lasts until the faults stop: an outage of the port. */
const OUTAGE = 1_000_000;

/** Up to `maxFaults` faults of a port, `maxGap` calls apart at most: short bursts, now and then an outage. */
const faultList = (maxGap: number, maxLength: number, maxFaults: number): fc.Arbitrary<FaultSpec[]> =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.record({ gap: fc.nat({ max: maxGap }), length: fc.integer({ min: 1, max: maxLength }), mode: fc.constantFrom<FaultMode>('before', 'after', 'slow') }) },
      { weight: 1, arbitrary: fc.record({ gap: fc.nat({ max: maxGap }), length: fc.constant(OUTAGE), mode: fc.constant<FaultMode>('before') }) },
    ),
    { maxLength: maxFaults },
  );

// --- The world ------------------------------------------------------------------------

const SEED = Number(process.env.FAULTS_SEED ?? Date.now() % 2_147_483_647);
const RUNS = Number(process.env.FAULTS_RUNS ?? 0);
const TEST_TIMEOUT_MS = Math.max(120_000, RUNS * 10_000);
/** Simulated time between two rounds of "drain the queues, run the scheduled relays". */
const ROUND_MS = 301_000;
/** A slow call: past the export worker's 900 s timeout plus its 60 s lease margin, and the mail worker's 120 s lease. */
const SLOW_MS = 1_000_000;
const BASE = 'https://tasks.example.test';

let database: Database;
let db: Kysely<DB>;
let dir: string;
let clock: ManualClock;
let localQueue: LocalQueue;
let localBlobs: LocalBlobs;
let mailer: FaultyMailer;
let deps: AppDeps;
let handler: ApiHandler;

/** The organization exported for real, and one whose organization export is a synthetic document of two parts. */
let org: { gid: string; admin: Principal; adminEmail: string };
let largeOrg: { gid: string; admin: Principal; adminEmail: string };

/** ~6 MiB of barely compressible text, written uncompressed: two parts of >= 5 MiB, one hand-off between invocations. */
const LARGE = { items: 1500, itemBytes: 4200 };
const POOL = Buffer.from(Array.from({ length: 40_000 }, (_, i) => createHash('sha256').update(String(i)).digest('base64')).join('')).toString('latin1');
const largeItem = (index: number) => JSON.stringify(POOL.slice((index * 7919) % (POOL.length - LARGE.itemBytes), ((index * 7919) % (POOL.length - LARGE.itemBytes)) + LARGE.itemBytes));

const largePlan = async (_db: unknown, job: ExportJobContext): Promise<ExportPlan> => ({
  contentType: 'application/json',
  filename: `large ${job.gid}.json`,
  gzip: false,
  prologue: `{"export":${JSON.stringify({ gid: job.gid, at: job.createdAt.toISOString() })}`,
  epilogue: '\n}\n',
  sections: [
    {
      name: 'items',
      open: ',\n"items":[',
      close: '\n]',
      separator: ',\n',
      async page(after: string | null) {
        const start = after === null ? 0 : Number(after);
        const end = Math.min(LARGE.items, start + 50);
        return { items: Array.from({ length: end - start }, (_, i) => largeItem(start + i)), next: end < LARGE.items ? String(end) : null };
      },
    },
  ],
});

const PLANS: Record<ExportKind, PlanBuilder> = {
  organization: (database, job) => (job.organizationGid === largeOrg.gid ? largePlan(database, job) : buildOrganizationExport(database, job)),
  team_csv: buildTeamCsvExport,
};

async function adminOf(name: string, plan: 'free' | 'paid') {
  const now = clock.now();
  const organization = await organizations.create(db, { gid: cryptoIds.gid(), name, plan, now });
  const adminEmail = `admin-${organization.gid}@example.com`;
  const user = await users.create(db, { gid: cryptoIds.gid(), email: adminEmail, name: `Admin of ${name}`, now });
  await organizations.addMember(db, { gid: cryptoIds.gid(), organizationGid: organization.gid, userGid: user.gid, role: 'admin', now });
  return { gid: organization.gid, admin: { kind: 'user', user, sessionGid: 'session' } as Principal, adminEmail };
}

/** A few hundred rows: people, teams with members, a project with sections, tasks with comments. */
async function fillOrganization(organizationGid: string) {
  const now = clock.now();
  const people = Array.from({ length: 30 }, (_, i) => ({ gid: cryptoIds.gid(), email: `person-${i}-${organizationGid}@example.com`, name: `Person ${i}`, created_at: now, modified_at: now }));
  await db.insertInto('users').values(people).execute();
  await db.insertInto('organization_memberships').values(people.map((p, i) => ({ gid: cryptoIds.gid(), organization_gid: organizationGid, user_gid: p.gid, role: i % 10 === 0 ? ('guest' as const) : ('member' as const), created_at: now }))).execute();
  for (let t = 0; t < 5; t++) {
    const team = cryptoIds.gid();
    await db.insertInto('teams').values({ gid: team, organization_gid: organizationGid, name: t === 2 ? '=HYPERLINK("http://x")' : `Team ${t}`, visibility: t === 4 ? 'secret' : 'public', created_at: now, modified_at: now }).execute();
    await db.insertInto('team_memberships').values(people.filter((_, i) => i % 5 === t || i < 3).map((p, i) => ({ gid: cryptoIds.gid(), team_gid: team, user_gid: p.gid, is_limited_access: i === 1, created_at: now }))).execute();
  }
  const projectGid = cryptoIds.gid();
  await db.insertInto('projects').values({ gid: projectGid, organization_gid: organizationGid, name: 'Roadmap', created_at: now, modified_at: now }).execute();
  const sections = [cryptoIds.gid(), cryptoIds.gid()];
  await db.insertInto('sections').values(sections.map((gid, i) => ({ gid, project_gid: projectGid, name: `Column ${i}`, position: i, created_at: now }))).execute();
  const tasks = Array.from({ length: 120 }, (_, i) => ({ gid: cryptoIds.gid(), i }));
  await db.insertInto('tasks').values(tasks.map((t) => ({ gid: t.gid, organization_gid: organizationGid, name: `Task ${t.i} ü "quoted"`, notes: `Notes ${t.i}\nline two`, assignee_gid: people[t.i % people.length]!.gid, created_by: people[0]!.gid, created_at: now, modified_at: now }))).execute();
  await db.insertInto('task_ancestors').values(tasks.map((t) => ({ task_gid: t.gid, ancestor_gid: t.gid, depth: 0 }))).execute();
  await db.insertInto('task_projects').values(tasks.map((t) => ({ task_gid: t.gid, project_gid: projectGid, section_gid: sections[t.i % 2]!, position: t.i, added_at: now }))).execute();
  await db.insertInto('stories').values(tasks.map((t) => ({ gid: cryptoIds.gid(), task_gid: t.gid, text: `Comment on ${t.i}`, created_by: people[1]!.gid, created_at: now, modified_at: now }))).execute();
}

beforeAll(async () => {
  console.log(`faults: seed ${SEED} (rerun: FAULTS_SEED=${SEED} FAULTS_RUNS=<runs>)`);
  logger.setLogLevel('SILENT');
  countStepFailures();
  database = await faultyDatabase();
  db = database.db;
  dir = await mkdtemp(join(tmpdir(), 'faults-'));
  clock = new ManualClock('2026-11-20T10:00:00.000Z');
  localQueue = new LocalQueue({ clock });
  localBlobs = new LocalBlobs({ root: join(dir, 'blobs'), baseUrl: 'http://127.0.0.1:9', secret: 'faults-test-secret', clock });
  mailer = new FaultyMailer();
  deps = {
    database,
    clock,
    ids: cryptoIds,
    blobs: faultyBlobs(localBlobs),
    queue: faultyQueue(localQueue),
    mailer,
    secrets: testSecrets,
    config: { publicBaseUrl: BASE, maxBodyBytes: 64 * 1024, auth: CHEAP_AUTH, defaultPlan: 'free' },
  };
  // The deployed workers on the in-process queue; the export worker hands off after every part but the last.
  registerWorkers(localQueue, deps, { exportWorker: { plans: PLANS, partBytes: MIN_PART_BYTES, handOffMarginMs: 900_001 } });
  handler = createApiHandler(deps, routes);
  faults.onSlow = whileStalled;
  org = await adminOf('Fault Tolerant Org', 'paid');
  await fillOrganization(org.gid);
  largeOrg = await adminOf('Large Export Org', 'paid');
}, 60_000);

afterAll(async () => {
  restoreLogger?.();
  await localQueue?.stop();
  await database?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// --- Running ---------------------------------------------------------------------------

/** Runs `fn` with the faults off (setup and checks must not consume or suffer faults). */
async function calm<T>(fn: () => Promise<T>): Promise<T> {
  const was = faults.enabled;
  faults.enabled = false;
  try {
    return await fn();
  } finally {
    faults.enabled = was;
  }
}

/** Two consumers per queue, as two concurrent Lambda invocations: duplicates of a message may race. */
const drainTwice = () => Promise.all([localQueue.drain({ timeoutMs: 60_000 }), localQueue.drain({ timeoutMs: 60_000 })]);

/** The scheduled relays (EventBridge, every minute); they may fail too. */
async function relays() {
  await relayStalledExports(deps).catch(() => undefined);
  await relayDueMail(deps).catch(() => undefined);
}

/** Work started while a call stalled: the relays, then a delivery of what they sent, concurrent with the stalled invocation. */
const background = new Set<Promise<void>>();
function whileStalled() {
  const work: Promise<void> = (async () => {
    await relays();
    await Promise.all([localQueue.pollOnce('exports'), localQueue.pollOnce('mail')]);
  })().finally(() => background.delete(work));
  background.add(work);
}

/** One scheduled round: deliver everything visible, run the relays, deliver again, then let time pass. */
async function round() {
  await drainTwice();
  await relays();
  await drainTwice();
  while (background.size > 0) {
    await Promise.all(background);
    await drainTwice();
  }
  clock.advance(ROUND_MS);
}

const queuesEmpty = () => (['exports', 'mail'] as const).every((q) => {
  const s = localQueue.stats(q);
  return s.visible + s.inFlight + s.delayed === 0;
});

/** After the faults: rounds until every job is settled, every mail dispatched and both queues empty. */
async function recover(settled: () => Promise<boolean>, maxRounds = 120) {
  faults.enabled = false;
  for (let i = 0; i < maxRounds; i++) {
    await round();
    if (queuesEmpty() && (await settled())) return i;
  }
  throw new Error(`not settled after ${maxRounds} rounds (seed ${SEED})`);
}

const undispatched = async (dedupeLike: string) => (await db.selectFrom('outbox_messages').select('gid').where('dedupe_key', 'like', dedupeLike).where('dispatched_at', 'is', null).execute()).length;

async function storedBytes(key: string): Promise<Buffer | null> {
  const stream = await localBlobs.get(key);
  if (!stream) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Keys of the stored objects (LocalBlobs' sidecars name them) under a prefix. */
async function storedKeys(prefix: string): Promise<string[]> {
  const root = join(dir, 'blobs', 'objects');
  const keys: string[] = [];
  for (const shard of await readdir(root).catch(() => [] as string[])) {
    for (const file of await readdir(join(root, shard))) {
      if (!file.endsWith('.json')) continue;
      const meta = JSON.parse(await readFile(join(root, shard, file), 'utf8')) as { key: string };
      if (meta.key.startsWith(prefix)) keys.push(meta.key);
    }
  }
  return keys;
}

/** Why export steps failed (the worker's warnings, counted: evidence that zombies were fenced off). */
const stepFailures: Record<string, number> = {};
let restoreLogger: (() => void) | undefined;
function countStepFailures() {
  const original = logger.warn;
  restoreLogger = () => void (logger.warn = original);
  const warn = logger.warn.bind(logger);
  logger.warn = ((message: string, ...rest: unknown[]) => {
    const error = (rest[0] as { error?: Error } | undefined)?.error;
    if (message.startsWith('export step failed') && error) {
      stepFailures[error.name] = (stepFailures[error.name] ?? 0) + 1;
      if (process.env.FAULTS_VERBOSE && !['InjectedFault', 'LostClaimError'].includes(error.name)) console.log(error);
    }
    return (warn as (...a: unknown[]) => void)(message, ...rest);
  }) as typeof logger.warn;
}

const stats = { runs: 0, jobs: 0, finished: 0, error: 0, handOffs: 0, requestFailures: 0, deadLettered: 0, duplicateMails: 0, logins: 0, loginErrors: 0, alerts: 0, faults: { db: 0, commit: 0, blobs: 0, mailer: 0, queue: 0 } as Record<Port, number> };
const addFaults = () => PORTS.forEach((p) => (stats.faults[p] += faults.injected[p]));

/** A finished job must have its whole file, at every moment (checked between rounds, while faults still run). */
async function expectNoHalfWrittenFinish(gids: string[]) {
  if (gids.length === 0) return;
  const finished = await db.selectFrom('export_jobs').selectAll().where('gid', 'in', gids).where('state', '=', 'finished').execute();
  for (const job of finished) {
    const manifest = job.manifest as ExportManifest;
    const bytes = await storedBytes(job.blob_key!);
    expect(bytes).not.toBeNull();
    expect(bytes!.length).toBe(manifest.bytes);
    expect(createHash('sha256').update(bytes!).digest('hex')).toBe(manifest.sha256);
  }
}

// --- Exports -------------------------------------------------------------------------------

type JobSpec = 'organization' | 'team_csv' | 'large';
interface ExportScenario {
  jobs: JobSpec[];
  schedule: Schedule;
  chaosRounds: number;
}

const exportScenario: fc.Arbitrary<ExportScenario> = fc.record({
  jobs: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant<JobSpec>('organization') }, { weight: 3, arbitrary: fc.constant<JobSpec>('team_csv') }, { weight: 1, arbitrary: fc.constant<JobSpec>('large') }), { minLength: 1, maxLength: 3 }),
  schedule: fc.record({ db: faultList(40, 4, 8), commit: faultList(4, 2, 4), blobs: faultList(6, 3, 4), mailer: faultList(3, 4, 3), queue: faultList(4, 3, 4) }),
  // Mostly short; sometimes long enough (> 5 receives x 90 min of visibility timeout) for messages to be dead-lettered.
  chaosRounds: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.integer({ min: 75, max: 90 }) }),
});

const outage = (mode: FaultMode = 'before'): FaultSpec[] => [{ gap: 0, length: OUTAGE, mode }];
const every = (gap: number, count: number, mode: FaultMode): FaultSpec[] => Array.from({ length: count }, () => ({ gap, length: 1, mode }));

/** Run first, whatever the seed: the paths the random schedules reach only sometimes. */
const EXPORT_EXAMPLES: [ExportScenario][] = [
  // The blob store is down for 8 hours: every message is dead-lettered and each job fails, with one email.
  [{ jobs: ['organization', 'team_csv'], schedule: { ...emptySchedule(), blobs: outage() }, chaosRounds: 85 }],
  // The queue refuses every send: the requests' and the hand-off's messages are lost; the relay starts them later.
  [{ jobs: ['organization', 'large'], schedule: { ...emptySchedule(), queue: outage() }, chaosRounds: 3 }],
  // Statements and COMMITs take effect and their answers are lost (every 7th statement, every 2nd COMMIT).
  [{ jobs: ['organization', 'large', 'team_csv'], schedule: { ...emptySchedule(), db: every(6, 30, 'after'), commit: every(1, 10, 'after') }, chaosRounds: 12 }],
  // The mail service is down for 8 hours: the outbox keeps the emails, the relay sends them after.
  [{ jobs: ['team_csv'], schedule: { ...emptySchedule(), mailer: outage() }, chaosRounds: 85 }],
  // Every COMMIT commits and answers an error: requests look failed, finishing looks failed; the relays carry on.
  [{ jobs: ['team_csv', 'organization'], schedule: { ...emptySchedule(), commit: outage('after') }, chaosRounds: 4 }],
];

async function expectedDocument(job: { gid: string; organization_gid: string; kind: ExportKind; created_at: Date; modified_since: Date | null; requested_by_user: string | null; base_url: string }) {
  const plan = await PLANS[job.kind](db, { gid: job.gid, organizationGid: job.organization_gid, createdAt: job.created_at, modifiedSince: job.modified_since, requestedBy: { kind: 'user', gid: job.requested_by_user! }, baseUrl: job.base_url });
  return renderPlanToString(plan);
}

async function checkExportJobs(gids: string[]) {
  if (gids.length === 0) return;
  const jobs = await db.selectFrom('export_jobs').selectAll().where('gid', 'in', gids).execute();
  expect(jobs).toHaveLength(gids.length);
  for (const job of jobs) {
    const context = `job ${job.gid} (${job.kind}, seed ${SEED})`;
    const mails = await db.selectFrom('outbox_messages').selectAll().where('dedupe_key', 'in', [`export-ready:${job.gid}`, `export-failed:${job.gid}`]).execute();
    const ready = mails.filter((m) => m.dedupe_key!.startsWith('export-ready:'));
    const failed = mails.filter((m) => m.dedupe_key!.startsWith('export-failed:'));
    const requester = job.organization_gid === largeOrg.gid ? largeOrg.adminEmail : org.adminEmail;
    expect({ context, state: job.state }).toEqual({ context, state: expect.stringMatching(/^(finished|error)$/) });
    for (const mail of mails) {
      // Dispatched, and sent (once, unless the mailer's answer or the dispatch record was lost).
      expect({ context, dispatched: mail.dispatched_at !== null }).toEqual({ context, dispatched: true });
      const sends = mailer.byOutboxId(mail.gid);
      expect(sends.length).toBeGreaterThanOrEqual(1);
      if (sends.length > 1) {
        expect({ context, mail: mail.gid, ambiguous: faults.ambiguousMail.has(mail.gid) }).toEqual({ context, mail: mail.gid, ambiguous: true });
        stats.duplicateMails += 1;
      }
      for (const sent of sends) expect(sent.to).toEqual([requester]);
    }
    const files = await storedKeys(`exports/jobs/${job.organization_gid}/${job.gid}.`);
    if (job.state === 'finished') {
      stats.finished += 1;
      expect({ context, ready: ready.length, failed: failed.length }).toEqual({ context, ready: 1, failed: 0 });
      const manifest = job.manifest as ExportManifest;
      // The key is a function of the job alone, so every invocation wrote the same object.
      expect(job.blob_key).toBe(`exports/jobs/${job.organization_gid}/${job.gid}.${manifest.gzip ? 'json.gz' : 'csv'}`);
      expect({ context, files }).toEqual({ context, files: [job.blob_key] });
      const bytes = (await storedBytes(job.blob_key!))!;
      expect(bytes.length).toBe(manifest.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.sha256);
      const text = (manifest.gzip ? gunzipSync(bytes) : bytes).toString('utf8');
      const expected = await expectedDocument(job);
      expect({ context, length: text.length, same: text === expected }).toEqual({ context, length: expected.length, same: true });
      expect(manifest.source_bytes).toBe(Buffer.byteLength(expected));
      expect(job.expires_at).not.toBeNull();
      expect(job.last_error).toBeNull();
      const sent = mailer.byOutboxId(ready[0]!.gid)[0]!;
      expect(sent.subject).toMatch(/is ready$/);
      expect(sent.text).toContain(downloadLink(job));
      expect(sent.text).toContain(`SHA-256: ${manifest.sha256}`);
      expect(sent.text).toContain(`Size: ${manifest.bytes} bytes`);
      expect(sent.text).not.toMatch(/X-Amz|sig=|signature=|expires=/i);
      if ((job.checkpoint as { upload: { parts: unknown[] } }).upload.parts.length > 1) stats.handOffs += job.step;
    } else {
      stats.error += 1;
      expect({ context, ready: ready.length, failed: failed.length }).toEqual({ context, ready: 0, failed: 1 });
      expect(job.blob_key).toBeNull();
      expect(job.manifest).toBeNull();
      expect(mailer.byOutboxId(failed[0]!.gid)[0]!.subject).toMatch(/failed$/);
    }
  }
}

describe('faults: exports', () => {
  test('every requested export ends finished exactly once (one file equal to its manifest, one email) or in error with one email', async () => {
    const seen = new Set((await db.selectFrom('export_jobs').select('gid').execute()).map((r) => r.gid));
    await fc.assert(
      fc.asyncProperty(exportScenario, async ({ jobs, schedule, chaosRounds }) => {
        stats.runs += 1;
        faults.load(schedule);
        PORTS.forEach((p) => ((faults.calls[p] = 0), (faults.injected[p] = 0)));
        faults.enabled = true;
        const deadBefore = localQueue.deadLetters('exports').length;
        // Requests under faults: one may fail (500) and yet have created its job.
        for (const spec of jobs) {
          const target = spec === 'large' ? largeOrg : org;
          await requestExport(deps, target.admin, { organizationGid: target.gid, kind: spec === 'team_csv' ? 'team_csv' : 'organization', baseUrl: `${BASE}/`, ip: '198.51.100.7', userAgent: 'faults' }).catch(() => (stats.requestFailures += 1));
        }
        const gids = await calm(async () => (await db.selectFrom('export_jobs').select('gid').execute()).map((r) => r.gid).filter((gid) => !seen.has(gid)));
        for (let i = 0; i < chaosRounds; i++) {
          await round();
          await calm(async () => expectNoHalfWrittenFinish(gids));
        }
        addFaults();
        if (process.env.FAULTS_VERBOSE) console.log(JSON.stringify({ jobs, calls: faults.calls, injected: faults.injected, chaosRounds }));
        const unsettled = async () => {
          if (gids.length === 0) return true;
          const open = await db.selectFrom('export_jobs').select('gid').where('gid', 'in', gids).where('state', 'in', ['pending', 'started']).execute();
          return open.length === 0 && (await undispatched('export-%')) === 0;
        };
        await recover(unsettled);
        stats.deadLettered += localQueue.deadLetters('exports').length - deadBefore;
        stats.jobs += gids.length;
        for (const gid of gids) seen.add(gid);
        await checkExportJobs(gids);
      }),
      { seed: SEED, numRuns: RUNS || 24, endOnFailure: true, examples: EXPORT_EXAMPLES },
    );
    console.log(`faults (exports): ${JSON.stringify({ ...stats, stepFailures })}`);
    // The examples guarantee each path ran: finished, failed after dead-lettering, handed off between invocations.
    expect(stats.finished).toBeGreaterThan(0);
    expect(stats.error).toBeGreaterThan(0);
    expect(stats.handOffs).toBeGreaterThan(0);
  }, TEST_TIMEOUT_MS);

  test('lost queue sends: nothing happens until the relays re-send them, then one file and one email', async () => {
    // The queue refuses the request's message and, later, the poke of the ready email.
    faults.load({ ...emptySchedule(), queue: outage() });
    faults.enabled = true;
    const job = await requestExport(deps, org.admin, { organizationGid: org.gid, kind: 'team_csv', baseUrl: BASE, ip: '198.51.100.7', userAgent: 'faults' });
    faults.enabled = false;
    await drainTwice();
    expect(localQueue.stats('exports')).toMatchObject({ visible: 0, inFlight: 0 });
    expect((await db.selectFrom('export_jobs').select('state').where('gid', '=', job.gid).executeTakeFirstOrThrow()).state).toBe('pending');
    // Not before the job has been idle for 5 minutes.
    clock.advance(299_000);
    expect(await relayStalledExports(deps)).toBe(0);
    clock.advance(2_000);
    expect(await relayStalledExports(deps)).toBe(1);
    // The worker finishes it, but the poke of the mail worker is lost: the email waits in the outbox.
    faults.load({ ...emptySchedule(), queue: outage() });
    faults.enabled = true;
    await drainTwice();
    faults.enabled = false;
    const row = await db.selectFrom('export_jobs').selectAll().where('gid', '=', job.gid).executeTakeFirstOrThrow();
    expect(row.state).toBe('finished');
    const [ready] = await db.selectFrom('outbox_messages').selectAll().where('dedupe_key', '=', `export-ready:${job.gid}`).execute();
    expect(ready?.dispatched_at).toBeNull();
    expect(mailer.byOutboxId(ready!.gid)).toHaveLength(0);
    expect(await relayDueMail(deps)).toBeGreaterThanOrEqual(1);
    await drainTwice();
    expect(mailer.byOutboxId(ready!.gid)).toHaveLength(1);
    await checkExportJobs([job.gid]);
  });
});

// --- Login alerts --------------------------------------------------------------------------

const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1';
const USER_AGENTS = [CHROME_MAC, FIREFOX_WINDOWS, SAFARI_IPHONE];
/** The first is where each user signed up (known, no alert); the IPv6 one is a /64 of its own. */
const IPS = ['203.0.113.1', '198.51.100.20', '198.51.100.21', '2001:db8:7::1'];
const PASSWORD = 'a long enough passphrase for faults';
const ALERT_SUBJECT = 'New login to your account';

interface LoginScenario {
  logins: { user: number; ua: number; ip: number; deliver: boolean }[];
  schedule: Schedule;
  chaosRounds: number;
}

const loginScenario: fc.Arbitrary<LoginScenario> = fc.record({
  logins: fc.array(fc.record({ user: fc.nat({ max: 1 }), ua: fc.nat({ max: USER_AGENTS.length - 1 }), ip: fc.nat({ max: IPS.length - 1 }), deliver: fc.boolean() }), { minLength: 1, maxLength: 8 }),
  schedule: fc.record({ db: faultList(30, 3, 6), commit: faultList(3, 2, 3), blobs: fc.constant([]), mailer: faultList(2, 4, 3), queue: faultList(2, 3, 3) }),
  chaosRounds: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.integer({ min: 40, max: 60 }) }),
});

const newCombos = [
  { user: 0, ua: 1, ip: 0, deliver: false },
  { user: 0, ua: 0, ip: 1, deliver: true },
  { user: 1, ua: 2, ip: 3, deliver: false },
  { user: 1, ua: 2, ip: 3, deliver: true },
  { user: 1, ua: 0, ip: 0, deliver: true },
];
const LOGIN_EXAMPLES: [LoginScenario][] = [
  // The mail service is down for hours: the alerts wait in the outbox and go out after.
  [{ logins: newCombos, schedule: { ...emptySchedule(), mailer: outage() }, chaosRounds: 50 }],
  // Every poke of the mail worker is lost: the relay finds the alerts.
  [{ logins: newCombos, schedule: { ...emptySchedule(), queue: outage() }, chaosRounds: 2 }],
  // Every COMMIT commits and answers an error: the logins answer 500, their sessions and alerts exist.
  [{ logins: newCombos, schedule: { ...emptySchedule(), commit: every(0, 40, 'after') }, chaosRounds: 2 }],
  // Sends that were accepted but answered an error, and lost dispatch records: sent again, never lost.
  [{ logins: newCombos, schedule: { ...emptySchedule(), mailer: every(0, 3, 'after'), db: every(9, 12, 'before') }, chaosRounds: 6 }],
];

async function loginUser(run: number, n: number) {
  const now = clock.now();
  const user = await users.create(db, { gid: cryptoIds.gid(), email: `login-${run}-${n}-${now.getTime()}@example.com`, name: `Login ${run}.${n}`, now });
  await db.updateTable('users').set({ password_hash: await hashPassword(PASSWORD, CHEAP_AUTH.scrypt), password_changed_at: now }).where('gid', '=', user.gid).execute();
  // Signing up makes the first browser + IP known (no alert for it).
  await completeLogin(deps, { user, method: 'signup', ctx: { ip: IPS[0]!, userAgent: USER_AGENTS[0]!, baseUrl: BASE } });
  return user;
}

const comboOf = (userAgent: string, ip: string) => {
  const device = parseUserAgent(userAgent);
  return `${device.browser}|${device.os}|${ip}`;
};

describe('faults: login alerts', () => {
  test('every new browser + IP login is alerted exactly once (by outbox row), none lost, none duplicated', async () => {
    let run = 0;
    for (const port of PORTS) stats.faults[port] = 0;
    stats.duplicateMails = 0;
    await fc.assert(
      fc.asyncProperty(loginScenario, async ({ logins, schedule, chaosRounds }) => {
        run += 1;
        const people = await calm(async () => [await loginUser(run, 0), await loginUser(run, 1)]);
        faults.load(schedule);
        PORTS.forEach((p) => ((faults.calls[p] = 0), (faults.injected[p] = 0)));
        faults.enabled = true;
        const answers: { user: number; combo: string; status: number }[] = [];
        for (const login of logins) {
          const person = people[login.user]!;
          const userAgent = USER_AGENTS[login.ua]!;
          const ip = IPS[login.ip]!;
          const result = await handler(apiEvent({ method: 'POST', path: '/api/1.0/auth/login', headers: { 'User-Agent': userAgent }, body: { data: { email: person.email, password: PASSWORD } }, sourceIp: ip }));
          answers.push({ user: login.user, combo: comboOf(userAgent, ip), status: result.statusCode });
          if (result.statusCode !== 200) stats.loginErrors += 1;
          if (login.deliver) await drainTwice();
          clock.advance(1000);
        }
        for (let i = 0; i < chaosRounds; i++) await round();
        addFaults();
        stats.logins += logins.length;
        const gids = people.map((p) => p.gid);
        const alertsOf = async () => {
          const events = await db.selectFrom('login_events').select('gid').where('user_gid', 'in', gids).execute();
          return db.selectFrom('outbox_messages').selectAll().where('dedupe_key', 'in', events.map((e) => `login-alert:${e.gid}`)).execute();
        };
        await recover(async () => (await alertsOf()).every((row) => row.dispatched_at !== null));

        // A failed login is an error of ours (500), never a refusal: the password is right.
        for (const answer of answers) expect([200, 500]).toContain(answer.status);
        const rows = await alertsOf();
        for (const [n, person] of people.entries()) {
          const context = `user ${n} (seed ${SEED})`;
          const events = await db.selectFrom('login_events').selectAll().where('user_gid', '=', person.gid).orderBy('created_at').execute();
          const known = await db.selectFrom('known_logins').selectAll().where('user_gid', '=', person.gid).execute();
          const firsts = events.filter((e) => e.was_new);
          // Each known combination was first seen by exactly one committed login.
          expect({ context, firsts: firsts.length }).toEqual({ context, firsts: known.length });
          const alerted = firsts.filter((e) => e.method === 'password');
          expect(firsts.filter((e) => e.method !== 'password').map((e) => e.method)).toEqual(['signup']);
          // Never two alerts for one combination.
          const combos = alerted.map((e) => `${e.browser}|${e.os}|${e.ip_address}`);
          expect({ context, combos: new Set(combos).size }).toEqual({ context, combos: combos.length });
          // Every login answered 200 from a combination other than the sign-up's was alerted (by it, or by an earlier login that committed).
          const home = comboOf(USER_AGENTS[0]!, IPS[0]!);
          for (const answer of answers.filter((a) => a.user === n && a.status === 200 && a.combo !== home)) expect({ context, alerted: combos.includes(answer.combo) }).toEqual({ context, alerted: true });
          // Each alert: one outbox row, dispatched, sent to the user (twice only when the first send's fate was unknown).
          const mine = rows.filter((row) => alerted.some((e) => row.dedupe_key === `login-alert:${e.gid}`));
          expect({ context, rows: mine.length }).toEqual({ context, rows: alerted.length });
          for (const event of alerted) {
            const row = mine.find((r) => r.dedupe_key === `login-alert:${event.gid}`)!;
            expect(row.dispatched_at).not.toBeNull();
            const sends = mailer.byOutboxId(row.gid);
            expect({ context, sent: sends.length > 0 }).toEqual({ context, sent: true });
            if (sends.length > 1) {
              expect({ context, row: row.gid, ambiguous: faults.ambiguousMail.has(row.gid) }).toEqual({ context, row: row.gid, ambiguous: true });
              stats.duplicateMails += 1;
            }
            for (const sent of sends) {
              expect(sent.to).toEqual([person.email]);
              expect(sent.subject).toBe(ALERT_SUBJECT);
              expect(sent.text).toContain(`IP:       ${event.ip_address}`);
              expect(sent.text).toContain(`Browser:  ${event.browser} on ${event.os}`);
            }
          }
          // Nothing else was sent to them as an alert.
          const sentIds = new Set(mailer.sent.filter((m) => m.to.includes(person.email) && m.subject === ALERT_SUBJECT).map((m) => m.headers?.['X-Outbox-Id']));
          expect({ context, ids: [...sentIds].sort() }).toEqual({ context, ids: mine.map((r) => r.gid).sort() });
          stats.alerts += alerted.length;
        }
      }),
      { seed: SEED, numRuns: RUNS || 32, endOnFailure: true, examples: LOGIN_EXAMPLES },
    );
    console.log(`faults (login alerts): ${JSON.stringify({ logins: stats.logins, loginErrors: stats.loginErrors, alerts: stats.alerts, duplicateMails: stats.duplicateMails, faults: stats.faults })}`);
    expect(stats.alerts).toBeGreaterThan(0);
  }, TEST_TIMEOUT_MS);
});
