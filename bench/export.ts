/**
 * The organization export, measured. Four steps, each run in a fresh child process by
 * bench/run.ts (so the memory figures are per size and per step):
 *
 * - generate: a migrated database with an organization of N tasks (bench/data.ts);
 * - exportRun: the real worker path (runExportStep with LocalBlobs in a temp dir and all
 *   the time it wants) on a metered database: wall time, rows/s, peak RSS, statements,
 *   largest page;
 * - engineRun: the same tables of the same organization emitted as JSON by the engine
 *   itself (row_to_json, in chunks of ENGINE_CHUNK rows), the floor the export is held to;
 * - engineDocumentRun (engine-document.ts): the engine writing the export's own tasks and
 *   comments, a second baseline.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { LocalBlobs } from '../lambdas/adapters/blobs/local-blobs.js';
import { systemClock } from '../lambdas/adapters/clock.js';
import { cryptoIds } from '../lambdas/adapters/ids.js';
import type { Queue } from '../lambdas/adapters/ports.js';
import { type Database } from '../lambdas/db/database.js';
import { openPglite, pgliteDatabase, postgresDatabase } from '../lambdas/db/local-engines.js';
import { checksum, loadMigrations, migrate } from '../lambdas/db/migrator.js';
import { DEFAULT_AUTH_CONFIG } from '../lambdas/domain/auth/config.js';
import type { AppDeps } from '../lambdas/domain/deps.js';
import { requestExport, type ExportManifest } from '../lambdas/domain/exports/jobs.js';
import { buildOrganizationExport } from '../lambdas/domain/exports/organization-export.js';
import { PLAN_BUILDERS, runExportStep, type PlanBuilder } from '../lambdas/workers/exports.js';
import { organizationSql, type GeneratedOrganization } from './data.js';
import { Meter, meteredPglite, meteredPostgres } from './metered.js';

export type EngineName = 'pglite' | 'postgres';

/** Where one generated organization lives. */
export interface DatasetRef {
  engine: EngineName;
  /** PGlite: the data directory. */
  dataDir?: string;
  /** PostgreSQL: the connection string of its own database. */
  url?: string;
  organization: GeneratedOrganization;
}

const migrationsDir = (root: string) => join(root, 'lambdas', 'db', 'migrations');

/** Runs the generator's statements one at a time (triggers and constraints on, as for the application's own writes). */
async function runStatements(exec: (sql: string) => Promise<unknown>, statements: string[]) {
  for (const statement of statements) await exec(statement);
}

/**
 * A migrated, empty PGlite database as a data-directory dump, made once per migration set
 * and kept in the temp directory (as test/support/engines.ts does for tests): migrating
 * from scratch costs several seconds per dataset.
 */
async function migratedTemplate(root: string): Promise<Blob> {
  const migrations = await loadMigrations(migrationsDir(root));
  const key = checksum(migrations.map((m) => `${m.name}:${checksum(m.sql)}`).join('\n')).slice(0, 16);
  const path = join(tmpdir(), `asana-backend-bench-template-${key}.tar.gz`);
  if (!existsSync(path)) {
    const pglite = await PGlite.create();
    const database = pgliteDatabase(pglite);
    await migrate(database.db, migrations);
    const dump = await pglite.dumpDataDir('gzip');
    await database.close();
    const partial = `${path}.${randomBytes(6).toString('hex')}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, path);
  }
  return new Blob([await readFile(path)]);
}

/** Creates the database (migrated) and the organization. */
export async function generate(input: { engine: EngineName; tasks: number; root: string; dataDir?: string; adminUrl?: string; passwordHash?: string }): Promise<DatasetRef & { seconds: number }> {
  const started = performance.now();
  const { statements, organization } = organizationSql(input.tasks, input.passwordHash ? { passwordHash: input.passwordHash } : {});
  const migrations = await loadMigrations(migrationsDir(input.root));
  if (input.engine === 'pglite') {
    await mkdir(input.dataDir!, { recursive: true });
    const pglite = await PGlite.create({ dataDir: input.dataDir!, loadDataDir: await migratedTemplate(input.root) });
    const database = pgliteDatabase(pglite);
    try {
      await migrate(database.db, migrations); // nothing left to apply: checks the template is current
      await runStatements((s) => pglite.exec(s), statements);
    } finally {
      await database.close();
    }
    return { engine: 'pglite', dataDir: input.dataDir!, organization, seconds: (performance.now() - started) / 1000 };
  }
  // A throwaway database on the server DATABASE_URL points at.
  const url = new URL(input.adminUrl!);
  const name = `bench_${input.tasks}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  url.pathname = `/${name}`;
  const database = postgresDatabase(url.toString(), { max: 1 });
  try {
    await migrate(database.db, migrations);
  } finally {
    await database.close();
  }
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await runStatements((s) => client.query(s), statements);
  } finally {
    await client.end();
  }
  return { engine: 'postgres', url: url.toString(), organization, seconds: (performance.now() - started) / 1000 };
}

/** Drops a PostgreSQL dataset's database (PGlite directories are removed by the caller). */
export async function dropDataset(ref: DatasetRef, adminUrl: string): Promise<void> {
  if (ref.engine !== 'postgres' || !ref.url) return;
  const name = new URL(ref.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

export interface SectionFigures {
  name: string;
  rows: number;
  pages: number;
  seconds: number;
  statements: number;
  sql_seconds: number;
}

export interface ExportFigures {
  seconds: number;
  rows: number;
  statements: number;
  sql_seconds: number;
  /** Largest page of database rows, as keysetPage budgets it (Data API encoding). */
  max_page_bytes: number;
  /** Largest page of rendered document text (the worker's unit between checkpoints). */
  max_rendered_page_bytes: number;
  document_bytes: number;
  stored_bytes: number;
  counts: Record<string, number>;
  sections: SectionFigures[];
  rss_before_mb: number;
  peak_rss_mb: number;
  peak_heap_mb: number;
  /** CPU time (user + system, all threads: gzip and hashing too) the export's process spent during the export. */
  cpu_seconds: number;
  /** V8's heap limit in the export's process (old space plus young generation): shows the flags it ran with. */
  heap_limit_mb: number;
  /**
   * The engine's settings that move these figures (its buffer cache sits in the export's
   * process on PGlite), read from the engine during the run: a kept dataset whose
   * configuration was changed by hand shows it here.
   */
  engine_settings: EngineSettings;
  /** What the tasks and comments sections wrote (compared with engineDocumentRun's). */
  documents: Record<'tasks' | 'stories', DocumentTally>;
}

export interface EngineSettings {
  server_version: string;
  shared_buffers: string;
  work_mem: string;
}

const MB = 1024 * 1024;

/**
 * What an export section wrote: items, their UTF-8 bytes and, when asked for, a digest
 * that does not depend on their order (the sum of each item's SHA-256 prefix), so the
 * export, whose pages are read concurrently, and the engine can be compared.
 */
export interface DocumentTally {
  items: number;
  bytes: number;
  digest?: string;
}

/** Digests add up modulo 2^64 (so the order of the items does not matter). */
const addDigest = (sum: bigint, digest: bigint) => (sum + digest) & 0xffff_ffff_ffff_ffffn;

export function tally(into: DocumentTally, items: Iterable<string>, digest: boolean): void {
  let sum = digest ? BigInt(`0x${into.digest ?? '0'}`) : 0n;
  for (const item of items) {
    into.items += 1;
    into.bytes += Buffer.byteLength(item);
    if (digest) sum = addDigest(sum, createHash('sha256').update(item).digest().readBigUInt64BE(0));
  }
  if (digest) into.digest = sum.toString(16);
}

/** What a section wrote: its pages from the first (cursor null), each followed by the one its cursor leads to. */
/** The pages a section read, by the cursor each started at: what each held and where the next one starts. */
export type PagesRead = Map<string | null, { tally: DocumentTally; next: string | null }>;

export function writtenChain(pages: PagesRead): DocumentTally {
  const out: DocumentTally = { items: 0, bytes: 0 };
  let sum: bigint | null = null;
  let page = pages.get(null);
  while (page) {
    out.items += page.tally.items;
    out.bytes += page.tally.bytes;
    if (page.tally.digest !== undefined) sum = addDigest(sum ?? 0n, BigInt(`0x${page.tally.digest}`));
    page = page.next === null ? undefined : pages.get(page.next);
  }
  if (sum !== null) out.digest = sum.toString(16);
  return out;
}

/** Samples RSS and heap on an interval; the kernel's high-water mark is read at the end too. */
function memorySampler(intervalMs = 50) {
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    sample,
    stop() {
      clearInterval(timer);
      sample();
      // maxRSS (KiB) covers moments the interval missed while the event loop was busy.
      return { peakRssMb: Math.max(peakRss / MB, process.resourceUsage().maxRSS / 1024), peakHeapMb: peakHeap / MB };
    },
  };
}

const noQueue: Queue = { send: async () => ({ messageId: 'bench' }) };

/** The export's public base URL in the benchmark (it is in every task's permalink_url). */
export const BENCH_BASE_URL = 'https://tasks.example.test';

/**
 * One organization export through the worker, measured. `digest` also hashes the tasks and
 * comments written (for comparing with the engine's document; costs time, so only tests ask).
 */
export async function exportRun(input: { dataset: DatasetRef; workDir: string; digest?: boolean }): Promise<ExportFigures> {
  const meter = new Meter();
  const { dataset } = input;
  const database: Database = dataset.engine === 'pglite' ? await meteredPglite(dataset.dataDir!, meter) : meteredPostgres(dataset.url!, meter);
  const blobsDir = join(input.workDir, `blobs-${randomBytes(4).toString('hex')}`);
  try {
    const deps: AppDeps = {
      database,
      clock: systemClock,
      ids: cryptoIds,
      blobs: new LocalBlobs({ root: blobsDir, baseUrl: 'http://127.0.0.1:9', secret: randomBytes(32) }),
      queue: noQueue,
      mailer: { send: async () => ({ messageId: 'bench' }) },
      secrets: { get: async () => ({ hmacKey: Buffer.alloc(32, 1), encryptionKey: Buffer.alloc(32, 2) }) },
      config: { publicBaseUrl: BENCH_BASE_URL, maxBodyBytes: MB, auth: DEFAULT_AUTH_CONFIG, defaultPlan: 'paid' },
    };
    const { rows: settings } = await sql<EngineSettings>`select current_setting('server_version') as server_version, current_setting('shared_buffers') as shared_buffers, current_setting('work_mem') as work_mem`.execute(database.db);
    const admin = await database.db.selectFrom('users').selectAll().where('gid', '=', dataset.organization.adminGid).executeTakeFirstOrThrow();
    const job = await requestExport(deps, { kind: 'user', user: admin, sessionGid: 'bench' }, { organizationGid: dataset.organization.organizationGid, kind: 'organization', baseUrl: BENCH_BASE_URL, ip: '127.0.0.1', userAgent: 'bench' });
    // The tasks' and comments' pages by the cursor they start at. Pages read ahead and then
    // dropped (renderPlan drops them when a page ends before its hint) are read again from
    // where the document went on: what was written is the chain of pages from the start.
    const pagesRead: Record<'tasks' | 'stories', PagesRead> = { tasks: new Map(), stories: new Map() };

    // The real plan, with each section's pages timed and weighed on the way through.
    const sections = new Map<string, SectionFigures>();
    let maxRendered = 0;
    const organization: PlanBuilder = async (db, context) => {
      const plan = await buildOrganizationExport(db, context);
      for (const section of plan.sections) {
        const page = section.page.bind(section);
        const figures: SectionFigures = { name: section.name, rows: 0, pages: 0, seconds: 0, statements: 0, sql_seconds: 0 };
        sections.set(section.name, figures);
        section.page = async (after, early) => {
          const started = performance.now();
          const result = await meter.labelled(section.name, () => page(after, early));
          figures.seconds += (performance.now() - started) / 1000;
          figures.pages += 1;
          figures.rows += result.items.length;
          let bytes = 0;
          for (const item of result.items) bytes += Buffer.byteLength(item) + 2;
          maxRendered = Math.max(maxRendered, bytes);
          const read = pagesRead[section.name as 'tasks' | 'stories'];
          if (read) {
            const pageTally: DocumentTally = { items: 0, bytes: 0 };
            if (input.digest) tally(pageTally, result.items, true);
            else Object.assign(pageTally, { items: result.items.length, bytes: bytes - 2 * result.items.length });
            read.set(after, { tally: pageTally, next: result.next });
          }
          return result;
        };
      }
      return plan;
    };

    global.gc?.();
    const memory = memorySampler();
    const rssBefore = process.memoryUsage().rss / MB;
    meter.reset();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const outcome = await runExportStep(deps, { export_gid: job.gid, step: 0 }, () => 3_600_000, { plans: { ...PLAN_BUILDERS, organization } });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const { peakRssMb, peakHeapMb } = memory.stop();
    if (outcome !== 'finished') throw new Error(`export step ended ${outcome}`);
    const row = await database.db.selectFrom('export_jobs').select(['manifest']).where('gid', '=', job.gid).executeTakeFirstOrThrow();
    const manifest = row.manifest as ExportManifest;
    const documents = { tasks: writtenChain(pagesRead.tasks), stories: writtenChain(pagesRead.stories) };
    for (const [label, stats] of meter.byLabel) {
      const figures = sections.get(label);
      if (figures) Object.assign(figures, { statements: stats.statements, sql_seconds: stats.busyMs / 1000 });
    }
    return {
      seconds,
      rows: Object.values(manifest.counts).reduce((a, b) => a + b, 0),
      statements: meter.statements,
      sql_seconds: meter.busyMs / 1000,
      max_page_bytes: meter.maxPageBytes,
      max_rendered_page_bytes: maxRendered,
      document_bytes: manifest.source_bytes,
      stored_bytes: manifest.bytes,
      counts: manifest.counts,
      sections: [...sections.values()],
      rss_before_mb: rssBefore,
      peak_rss_mb: peakRssMb,
      peak_heap_mb: peakHeapMb,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
      heap_limit_mb: getHeapStatistics().heap_size_limit / MB,
      engine_settings: settings[0]!,
      documents,
    };
  } finally {
    await database.close();
    await rm(blobsDir, { recursive: true, force: true });
  }
}

// --- The engine's own JSON ---------------------------------------------------------------

/** Rows per statement when the engine emits a table as JSON. */
export const ENGINE_CHUNK = 10_000;

export interface EngineTable {
  table: string;
  /** FROM clause with the table as `t`, joined to whatever scopes it to the organization. */
  from: string;
  /** Scope to the organization ($1). */
  where: string;
  /** Primary key columns of `t`, in index order (keyset chunks). */
  keys: string[];
  /**
   * The joined column equal to the first key (`x.gid` for `t.task_gid`): later chunks bound
   * it by the cursor too, so both sides of the join are index ranges. Without it, every
   * chunk reads the joined index from its start (quadratic: a 1M-task run never ends).
   */
  joinedFirstKey?: string;
}

/** Every table the organization export reads, scoped to the organization as the export scopes it. */
export const ENGINE_TABLES: EngineTable[] = [
  { table: 'users', from: 'users t join organization_memberships x on x.user_gid = t.gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'organization_memberships', from: 'organization_memberships t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'one_time_tokens', from: 'one_time_tokens t', where: "t.organization_gid = $1 and t.purpose = 'invitation'", keys: ['token_hash'] },
  { table: 'teams', from: 'teams t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'team_memberships', from: 'team_memberships t join teams x on x.gid = t.team_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'projects', from: 'projects t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'sections', from: 'sections t join projects x on x.gid = t.project_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'project_statuses', from: 'project_statuses t join projects x on x.gid = t.project_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'tags', from: 'tags t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'custom_fields', from: 'custom_fields t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'custom_field_enum_options', from: 'custom_field_enum_options t join custom_fields x on x.gid = t.custom_field_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'tasks', from: 'tasks t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'task_projects', from: 'task_projects t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['task_gid', 'project_gid'], joinedFirstKey: 'x.gid' },
  { table: 'task_tags', from: 'task_tags t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['task_gid', 'tag_gid'], joinedFirstKey: 'x.gid' },
  { table: 'task_followers', from: 'task_followers t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['task_gid', 'user_gid'], joinedFirstKey: 'x.gid' },
  { table: 'task_likes', from: 'task_likes t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['task_gid', 'user_gid'], joinedFirstKey: 'x.gid' },
  { table: 'task_custom_field_values', from: 'task_custom_field_values t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['task_gid', 'custom_field_gid'], joinedFirstKey: 'x.gid' },
  { table: 'stories', from: 'stories t join tasks x on x.gid = t.task_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
  { table: 'story_likes', from: 'story_likes t join stories s on s.gid = t.story_gid join tasks x on x.gid = s.task_gid', where: 'x.organization_gid = $1', keys: ['story_gid', 'user_gid'], joinedFirstKey: 's.gid' },
  { table: 'attachments', from: 'attachments t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'messages', from: 'messages t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'project_templates', from: 'project_templates t', where: 't.organization_gid = $1', keys: ['gid'] },
  { table: 'task_templates', from: 'task_templates t join projects x on x.gid = t.project_gid', where: 'x.organization_gid = $1', keys: ['gid'] },
];

/** One chunk's statement: the rows as JSON text after the last key (row comparison, so the primary key index seeks). */
function chunkSql(spec: EngineTable, first: boolean): string {
  const keys = spec.keys.map((k) => `t.${k}`).join(', ');
  const after = first ? '' : ` and (${keys}) > (${spec.keys.map((_, i) => `$${i + 2}`).join(', ')})${spec.joinedFirstKey ? ` and ${spec.joinedFirstKey} >= $2` : ''}`;
  return `select row_to_json(t)::text as j, ${spec.keys.map((k, i) => `t.${k} as k${i}`).join(', ')} from ${spec.from} where ${spec.where}${after} order by ${keys} limit ${ENGINE_CHUNK}`;
}

export interface EngineFigures {
  seconds: number;
  rows: number;
  bytes: number;
  statements: number;
  tables: { table: string; rows: number; seconds: number }[];
}

export type EngineQuery = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** A plain connection to the dataset's engine (no meter, no query builder). */
export async function engineQuery(dataset: DatasetRef): Promise<{ query: EngineQuery; close: () => Promise<void> }> {
  if (dataset.engine === 'pglite') {
    const pglite = await openPglite(dataset.dataDir!);
    return { query: async (text, params) => (await pglite.query<Record<string, unknown>>(text, params)).rows, close: () => pglite.close() };
  }
  const client = new pg.Client({ connectionString: dataset.url! });
  await client.connect();
  return { query: async (text, params) => (await client.query(text, params)).rows as Record<string, unknown>[], close: () => client.end() };
}

/** One table of the organization as JSON text, in keyset chunks: rows, bytes and statements. */
export async function engineTable(query: EngineQuery, spec: EngineTable, organizationGid: string): Promise<{ rows: number; bytes: number; statements: number }> {
  let last: unknown[] | null = null;
  let rows = 0;
  let bytes = 0;
  let statements = 0;
  for (;;) {
    const chunk = await query(chunkSql(spec, last === null), [organizationGid, ...(last ?? [])]);
    statements += 1;
    for (const row of chunk) bytes += Buffer.byteLength(row.j as string);
    rows += chunk.length;
    if (chunk.length < ENGINE_CHUNK) break;
    const end = chunk[chunk.length - 1]!;
    last = spec.keys.map((_, i) => end[`k${i}`]);
  }
  return { rows, bytes, statements };
}

/** The engine emits every table of the organization as JSON text, in keyset chunks. */
export async function engineRun(input: { dataset: DatasetRef }): Promise<EngineFigures> {
  const { query, close } = await engineQuery(input.dataset);
  try {
    const tables: EngineFigures['tables'] = [];
    let rows = 0;
    let bytes = 0;
    let statements = 0;
    const started = performance.now();
    for (const spec of ENGINE_TABLES) {
      const tableStarted = performance.now();
      const table = await engineTable(query, spec, input.dataset.organization.organizationGid);
      rows += table.rows;
      bytes += table.bytes;
      statements += table.statements;
      tables.push({ table: spec.table, rows: table.rows, seconds: (performance.now() - tableStarted) / 1000 });
    }
    return { seconds: (performance.now() - started) / 1000, rows, bytes, statements, tables };
  } finally {
    await close();
  }
}
