/**
 * npm run bench -- [options]: measurements, not tests. Prints tables and writes
 * bench/results.json (see bench/report.ts for its shape). Issue #7's targets are reported
 * PASS/MISS; a MISS never fails the run (only a broken harness does).
 *
 *   --tasks 10000,100000      organization export sizes (tasks)
 *   --parts export,api,cold   which parts to run
 *   --engines pglite,postgres export engines (default: pglite, plus postgres when DATABASE_URL is set)
 *   --duration 10             seconds of load per API route (plus a short warm-up)
 *   --connections 10          autocannon connections (login: at most 4, and 2 logins per --duration second)
 *   --api-tasks 10000         tasks in the API benchmark's organization
 *   --cold-samples 20         fresh processes per bundle for the cold-start medians
 *   --functions api,purge     cold start of these functions only (default: every one of lib/functions.ts)
 *   --warmup 5                warm-up requests per connection before each API route's run
 *   --max-old-space MB        V8 old-space limit of the export process instead of the deployed export
 *                             worker's (lib/functions.ts EXPORT_WORKER_V8_FLAGS), e.g. to see what it needs live
 *   --out bench/results.json  where the results go
 *   --keep-data DIR           keep generated PGlite datasets in DIR and reuse them on later runs
 *   --check-document          also hash every task and comment the export and the engine write, and
 *                             require the same (slower: only for checking the second baseline)
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stop as stopEsbuild } from 'esbuild';
import { FUNCTIONS } from '../lib/functions.js';
import { hashPassword } from '../lambdas/domain/auth/passwords.js';
import { BENCH_PASSWORD, load, logIn, type ApiRow, type DirectRequest, type ServerArgs, type ServerReady } from './api.js';
import { coldStart } from './cold-start.js';
import { gidOf } from './data.js';
import { documentMismatch, type EngineDocumentFigures } from './engine-document.js';
import { BENCH_BASE_URL, dropDataset, type DatasetRef, type EngineFigures, type EngineName, type ExportFigures } from './export.js';
import { apiTable, apiTargets, coldStartTable, exportTable, exportTargets, sectionTable, targetsTable, type ExportRow, type Results } from './report.js';
import { bundleChild, ROOT, runChild, startService, type ChildBundle } from './spawn.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '10000,100000' },
    parts: { type: 'string', default: 'export,api,cold' },
    engines: { type: 'string' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    'api-tasks': { type: 'string', default: '10000' },
    'cold-samples': { type: 'string', default: '20' },
    functions: { type: 'string' },
    warmup: { type: 'string', default: '5' },
    'max-old-space': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results.json') },
    'keep-data': { type: 'string' },
    'check-document': { type: 'boolean', default: false },
  },
  strict: true,
});

function positiveInt(name: string, text: string): number {
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes positive integers, got ${JSON.stringify(text)}`);
  return value;
}

const sizes = values.tasks.split(',').map((t) => positiveInt('tasks', t.trim()));
const parts = new Set(values.parts.split(',').map((p) => p.trim()));
for (const p of parts) if (!['export', 'api', 'cold'].includes(p)) throw new Error(`--parts takes export, api, cold; got ${p}`);
const adminUrl = process.env.DATABASE_URL;
const engines = (values.engines?.split(',').map((e) => e.trim()) ?? ['pglite', ...(adminUrl ? ['postgres'] : [])]) as EngineName[];
for (const e of engines) {
  if (e !== 'pglite' && e !== 'postgres') throw new Error(`--engines takes pglite, postgres; got ${e}`);
  if (e === 'postgres' && !adminUrl) throw new Error('--engines postgres needs DATABASE_URL');
}
const duration = Number(values.duration);
if (!(duration > 0)) throw new Error('--duration takes a positive number of seconds');
const connections = positiveInt('connections', values.connections);
const apiTasks = positiveInt('api-tasks', values['api-tasks']);
const coldSamples = positiveInt('cold-samples', values['cold-samples']);
const functions = values.functions?.split(',').map((f) => f.trim());
const warmupPerConnection = positiveInt('warmup', values.warmup);
const maxOldSpace = values['max-old-space'] ? positiveInt('max-old-space', values['max-old-space']) : undefined;
/** The export runs with the deployed export worker's V8 flags (its pinned heap); --max-old-space replaces the old-space limit. */
const exportV8Flags = [...(FUNCTIONS.exportWorker.v8Flags ?? []).filter((flag) => !(maxOldSpace && flag.startsWith('--max-old-space-size='))), ...(maxOldSpace ? [`--max-old-space-size=${maxOldSpace}`] : [])];
const out = resolve(values.out);
const keepData = values['keep-data'] ? resolve(values['keep-data']) : undefined;
const checkDocument = values['check-document'];

const log = (line: string) => process.stderr.write(`${line}\n`);

// --- Export ------------------------------------------------------------------------------

/** Datasets kept with --keep-data are reused while the generator and the migrations are unchanged. */
async function datasetFingerprint(): Promise<string> {
  const hash = createHash('sha256').update(await readFile(join(ROOT, 'bench', 'data.ts')));
  const migrations = join(ROOT, 'lambdas', 'db', 'migrations');
  for (const name of (await readdir(migrations)).sort()) hash.update(name).update(await readFile(join(migrations, name)));
  return hash.digest('hex').slice(0, 12);
}

interface Dataset {
  ref: DatasetRef;
  generateSeconds: number;
  /** Fresh (not a kept one): the API benchmark may write into it afterwards. */
  disposable: boolean;
  dispose(): Promise<void>;
}

/** Every generated user's password hash (scrypt with the production parameters), made once. */
let passwordHash: Promise<string> | undefined;
const benchPasswordHash = () => (passwordHash ??= hashPassword(BENCH_PASSWORD));

async function dataset(bundle: ChildBundle, work: string, engine: EngineName, tasks: number): Promise<Dataset> {
  if (engine === 'pglite' && keepData) {
    const dir = join(keepData, `pglite-${tasks}-${await datasetFingerprint()}`);
    const refFile = join(dir, 'dataset.json');
    if (existsSync(refFile)) {
      log(`  [${engine} ${tasks}] reusing ${dir}`);
      return { ref: JSON.parse(await readFile(refFile, 'utf8')) as DatasetRef, generateSeconds: 0, disposable: false, dispose: async () => undefined };
    }
    await rm(dir, { recursive: true, force: true });
    const generated = await runChild<DatasetRef & { seconds: number }>(bundle, 'generate', { engine, tasks, root: ROOT, dataDir: join(dir, 'db'), passwordHash: await benchPasswordHash() });
    await writeFile(refFile, JSON.stringify(generated));
    return { ref: generated, generateSeconds: generated.seconds, disposable: false, dispose: async () => undefined };
  }
  const dataDir = join(work, `${engine}-${tasks}`, 'db');
  const generated = await runChild<DatasetRef & { seconds: number }>(bundle, 'generate', { engine, tasks, root: ROOT, dataDir, adminUrl, passwordHash: await benchPasswordHash() });
  return {
    ref: generated,
    generateSeconds: generated.seconds,
    disposable: true,
    dispose: async () => {
      if (engine === 'postgres') await dropDataset(generated, adminUrl!);
      else await rm(dirname(dataDir), { recursive: true, force: true });
    },
  };
}

/** A fresh PGlite dataset of the API benchmark's size, handed over by the export part instead of generating another. */
let apiDataset: Dataset | undefined;

async function exportPart(bundle: ChildBundle, work: string): Promise<ExportRow[]> {
  const rows: ExportRow[] = [];
  for (const engine of engines) {
    for (const tasks of sizes) {
      log(`export [${engine} ${tasks} tasks]: generating...`);
      const data = await dataset(bundle, work, engine, tasks);
      try {
        log(`export [${engine} ${tasks} tasks]: generated in ${data.generateSeconds.toFixed(1)} s; exporting...`);
        const figures = await runChild<ExportFigures>(bundle, 'export', { dataset: data.ref, workDir: work, digest: checkDocument }, { execArgv: ['--expose-gc', ...exportV8Flags] });
        const settings = figures.engine_settings;
        log(`export [${engine} ${tasks} tasks]: ${figures.seconds.toFixed(1)} s (PostgreSQL ${settings.server_version}, shared_buffers ${settings.shared_buffers}, work_mem ${settings.work_mem}); the engine's own JSON...`);
        const engineFigures = await runChild<EngineFigures>(bundle, 'engine', { dataset: data.ref });
        log(`export [${engine} ${tasks} tasks]: engine ${engineFigures.seconds.toFixed(2)} s; the engine writing the same document...`);
        const documentFigures = await runChild<EngineDocumentFigures>(bundle, 'engine-document', { dataset: data.ref, baseUrl: BENCH_BASE_URL, digest: checkDocument });
        const mismatch = documentMismatch(figures.documents, documentFigures);
        if (mismatch) throw new Error(mismatch);
        if (figures.counts.tasks !== tasks) throw new Error(`the export wrote ${figures.counts.tasks} tasks, expected ${tasks}`);
        rows.push({
          engine,
          tasks,
          seconds: figures.seconds,
          rows_per_second: figures.rows / figures.seconds,
          peak_rss_mb: figures.peak_rss_mb,
          statements_per_1k_tasks: figures.statements / (tasks / 1000),
          max_page_bytes: figures.max_page_bytes,
          engine_seconds: engineFigures.seconds,
          ratio: figures.seconds / engineFigures.seconds,
          engine_document_seconds: documentFigures.seconds,
          document_ratio: figures.seconds / documentFigures.seconds,
          engine_document: (({ seconds: _seconds, ...rest }) => rest)(documentFigures),
          rows: figures.rows,
          statements: figures.statements,
          sql_seconds: figures.sql_seconds,
          max_rendered_page_bytes: figures.max_rendered_page_bytes,
          document_bytes: figures.document_bytes,
          stored_bytes: figures.stored_bytes,
          rss_before_export_mb: figures.rss_before_mb,
          rss_growth_mb: figures.peak_rss_mb - figures.rss_before_mb,
          peak_heap_mb: figures.peak_heap_mb,
          cpu_seconds: figures.cpu_seconds,
          heap_limit_mb: figures.heap_limit_mb,
          engine_settings: figures.engine_settings,
          engine_rows: engineFigures.rows,
          engine_bytes: engineFigures.bytes,
          generate_seconds: data.generateSeconds,
          sections: figures.sections,
          engine_tables: engineFigures.tables,
        });
        log(`export [${engine} ${tasks} tasks]: the same document ${documentFigures.seconds.toFixed(2)} s`);
      } finally {
        if (engine === 'pglite' && tasks === apiTasks && parts.has('api') && data.disposable) apiDataset = data;
        else await data.dispose();
      }
    }
  }
  return rows;
}

// --- API ---------------------------------------------------------------------------------

/** Login runs scrypt (N=2^17, 128 MiB each) on libuv's 4 threads: more connections only queue. */
const LOGIN_CONNECTIONS = 4;

async function apiPart(bundle: ChildBundle, work: string): Promise<ApiRow[]> {
  let data = apiDataset;
  if (data) log(`api: on the export's organization of ${apiTasks} tasks`);
  else {
    log(`api: generating an organization of ${apiTasks} tasks...`);
    const dataDir = join(work, 'api', 'db');
    const ref = await runChild<DatasetRef>(bundle, 'generate', { engine: 'pglite', tasks: apiTasks, root: ROOT, dataDir, passwordHash: await benchPasswordHash() });
    data = { ref, generateSeconds: 0, disposable: true, dispose: () => rm(dirname(dataDir), { recursive: true, force: true }) };
  }
  try {
    return await loadApi(bundle, data.ref);
  } finally {
    await data.dispose();
  }
}

/** The server's data directory is the one holding the dataset's db/ (startLocal opens <dataDir>/db). */
async function loadApi(bundle: ChildBundle, generated: DatasetRef): Promise<ApiRow[]> {
  const dataDir = dirname(generated.dataDir!);
  const org = generated.organization;
  const member = { gid: gidOf('user', 2), email: 'user2@bench.test' };
  const server = await startService<ServerReady>(bundle, 'api-server', { dataDir, organizationGid: org.organizationGid, taskGid: org.taskGid, projectGid: org.projectGid, viewerGid: member.gid } satisfies ServerArgs);
  try {
    const base = `${server.ready.baseUrl}/api/1.0`;
    const token = await logIn(base, member.email);
    const rows: ApiRow[] = [];
    const measure = async (row: Promise<ApiRow>) => {
      const r = await row;
      rows.push(r);
      log(`  api: ${r.route} ${r.requests_per_second.toFixed(1)} req/s, p50 ${r.p50_ms.toFixed(1)} ms, errors ${r.errors}`);
      return r;
    };
    const direct = async (route: string, read: DirectRequest['read'], http: ApiRow) => {
      const figures = await server.request<Omit<ApiRow, 'route' | 'kind' | 'connections' | 'duration_seconds'>>({ type: 'direct', read, seconds: duration } satisfies DirectRequest);
      http.http_overhead = figures.requests_per_second / http.requests_per_second;
      await measure(Promise.resolve({ route, kind: 'direct', connections: 1, duration_seconds: duration, ...figures }));
    };
    log('api: load...');
    const warmup = warmupPerConnection * connections;
    const getTask = await measure(load(base, { route: 'GET /tasks/{gid}', method: 'GET', path: `/tasks/${org.taskGid}`, token, connections, warmup }, duration));
    const projectTasks = await measure(load(base, { route: 'GET /projects/{gid}/tasks?limit=100', method: 'GET', path: `/projects/${org.projectGid}/tasks?limit=100`, token, connections, warmup }, duration));
    await measure(
      load(base, { route: 'POST /tasks', method: 'POST', path: '/tasks', token, body: JSON.stringify({ data: { name: 'Benchmark task', notes: 'Created under load.', projects: [org.projectGid] } }), connections, warmup }, duration),
    );
    log('api: the same reads without HTTP...');
    await direct('loadTaskViews (GET /tasks/{gid} without HTTP)', 'task', getTask);
    await direct('keysetPage + taskVisible (GET /projects/{gid}/tasks without HTTP)', 'project_tasks', projectTasks);
    // Last, and a fixed number of logins (2 per second asked for): each takes 0.5-2 s of
    // scrypt, so a timed run would cut requests off and leave them hashing on the server.
    // One account per connection (users 10, 11, ...), though the throttle counts failures
    // only (per account and per IP network).
    const loginConnections = Math.min(connections, LOGIN_CONNECTIONS);
    await measure(
      load(
        base,
        {
          route: 'POST /auth/login',
          method: 'POST',
          path: '/auth/login',
          bodyFor: (c) => JSON.stringify({ data: { email: `user${10 + (c % LOGIN_CONNECTIONS)}@bench.test`, password: BENCH_PASSWORD } }),
          connections: loginConnections,
          warmup: loginConnections,
          amount: Math.max(loginConnections, Math.round(2 * duration)),
        },
        duration,
      ),
    );
    return rows;
  } finally {
    await server.stop();
  }
}

// --- Main --------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const bundle = await bundleChild();
  const work = await mkdtemp(join(tmpdir(), 'bench-'));
  if (keepData) await mkdir(keepData, { recursive: true });
  const results: Results = {
    generated_at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      memory_gb: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      note: process.env.BENCH_NOTE ?? '',
    },
    options: { tasks: sizes, parts: [...parts], engines, duration_seconds: duration, connections, warmup_per_connection: warmupPerConnection, max_old_space_mb: maxOldSpace ?? null, export_v8_flags: exportV8Flags, api_tasks: apiTasks, cold_samples: coldSamples, functions: functions ?? 'all' },
    export: [],
    api: [],
    cold_start: [],
    targets: [],
  };
  try {
    if (parts.has('export')) results.export = await exportPart(bundle, work);
    if (parts.has('api')) results.api = await apiPart(bundle, work);
    if (parts.has('cold')) {
      log('cold start: bundling and importing...');
      results.cold_start = await coldStart({ samples: coldSamples, log, ...(functions ? { functions } : {}) });
    }
  } finally {
    await stopEsbuild();
    await bundle.dispose();
    await rm(work, { recursive: true, force: true });
  }
  results.targets = [...exportTargets(results.export), ...apiTargets(results.api)];
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);

  const print = (text: string) => process.stdout.write(`${text}\n`);
  print(`\nBenchmarks (${results.machine.cpus} x ${results.machine.cpu_model}, ${results.machine.memory_gb} GB, Node ${results.machine.node}), ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (results.export.length) {
    print('Organization export\n');
    print(exportTable(results.export));
    for (const row of results.export) print(`\nSections at ${row.tasks} tasks (${row.engine}):\n\n${sectionTable(row)}`);
  }
  if (results.api.length) print(`\nAPI (${duration} s per route, local server on PGlite, ${apiTasks} tasks)\n\n${apiTable(results.api)}`);
  if (results.cold_start.length) print(`\nCold start (${coldSamples} fresh processes per bundle)\n\n${coldStartTable(results.cold_start)}`);
  if (results.targets.length) print(`\nTargets\n\n${targetsTable(results.targets)}`);
  print(`\nResults written to ${out}`);
}

await main();
