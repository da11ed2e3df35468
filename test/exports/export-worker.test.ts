/**
 * The export worker's mechanics with a synthetic document: parts, checkpoints, hand-offs
 * to new invocations, a killed invocation, retries, duplicates, dead letters. The
 * document contents (team CSV, organization JSON) have their own suites.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import type { BlobStore, UploadedPart } from '../../lambdas/adapters/ports.js';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { users } from '../../lambdas/db/repositories/users.js';
import { failExport, relayStalledExports, requestExport, type ExportCheckpoint, type ExportManifest } from '../../lambdas/domain/exports/jobs.js';
import { renderPlanToString, type ExportJobContext, type ExportPlan } from '../../lambdas/domain/exports/plan.js';
import type { Principal } from '../../lambdas/domain/auth/sessions.js';
import type { AppDeps } from '../../lambdas/domain/deps.js';
import { createExportWorker, failDeadLetteredExport, MIN_PART_BYTES, runExportStep, type ExportWorkerOptions, type PlanBuilder } from '../../lambdas/workers/exports.js';
import { logger } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { RecordingQueue, testDeps } from '../support/http.js';

/** Deterministic, barely compressible text: base64 of a hash chain seeded by (section, index). */
function item(section: number, index: number, bytes: number): string {
  const parts: Buffer[] = [];
  let block = createHash('sha256').update(`${section}:${index}`).digest();
  for (let n = 0; n < Math.ceil((bytes * 3) / 4 / 32); n++) {
    parts.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return JSON.stringify(Buffer.concat(parts).toString('base64').slice(0, bytes));
}

/** A JSON document of `sections` arrays of `items` items of `itemBytes`, paged by 50. */
function syntheticPlan(init: { sections: number; items: number; itemBytes: number; gzip?: boolean; onPage?: () => void }): PlanBuilder {
  return async (_db, job: ExportJobContext): Promise<ExportPlan> => ({
    contentType: 'application/json',
    filename: `synthetic ${job.gid}.json.gz`,
    gzip: init.gzip ?? true,
    prologue: `{"export":${JSON.stringify({ gid: job.gid, at: job.createdAt.toISOString() })}`,
    epilogue: '\n}\n',
    sections: Array.from({ length: init.sections }, (_, s) => ({
      name: `s${s}`,
      open: `,\n"s${s}":[`,
      close: '\n]',
      separator: ',\n',
      async page(after: string | null) {
        init.onPage?.();
        const start = after === null ? 0 : Number(after);
        const end = Math.min(init.items, start + 50);
        const items = Array.from({ length: end - start }, (_, i) => item(s, start + i, init.itemBytes));
        return { items, next: end < init.items ? String(end) : null };
      },
    })),
  });
}

const BLOB_METHODS = ['put', 'get', 'head', 'delete', 'signedGetUrl', 'signedPutUrl', 'createMultipartUpload', 'uploadPart', 'completeMultipartUpload', 'abortMultipartUpload'] as const;
/** The store with some methods replaced (fault injection). */
function wrapBlobs(base: BlobStore, overrides: Partial<BlobStore>): BlobStore {
  return Object.fromEntries(BLOB_METHODS.map((m) => [m, overrides[m] ?? (base[m] as (...a: unknown[]) => unknown).bind(base)])) as unknown as BlobStore;
}

const plansFor = (builder: PlanBuilder): ExportWorkerOptions['plans'] => ({ organization: builder, team_csv: builder });

let engine: TestEngine;
let dir: string;
let deps: AppDeps;
let clock: ManualClock;
let queue: RecordingQueue;
let blobs: LocalBlobs;
let admin: Principal;
let organizationGid: string;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  engine = await openEngine('pglite');
  dir = await mkdtemp(join(tmpdir(), 'export-worker-'));
  clock = new ManualClock('2026-11-20T10:00:00.000Z');
  queue = new RecordingQueue();
  blobs = new LocalBlobs({ root: join(dir, 'blobs'), baseUrl: 'http://127.0.0.1:9', secret: randomBytes(32) });
  deps = testDeps(engine, { clock, queue, blobs });
  const now = clock.now();
  const org = await organizations.create(engine.db, { gid: deps.ids.gid(), name: 'Synthetic Org', plan: 'paid', now });
  organizationGid = org.gid;
  const user = await users.create(engine.db, { gid: deps.ids.gid(), email: 'admin@synthetic.test', name: 'Ada Admin', now });
  await organizations.addMember(engine.db, { gid: deps.ids.gid(), organizationGid, userGid: user.gid, role: 'admin', now });
  admin = { kind: 'user', user, sessionGid: 'session' };
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function newJob() {
  return requestExport(deps, admin, { organizationGid, kind: 'organization', baseUrl: 'https://tasks.example.test/', ip: '198.51.100.7', userAgent: 'jest' });
}

const job = (gid: string) => engine.db.selectFrom('export_jobs').selectAll().where('gid', '=', gid).executeTakeFirstOrThrow();
const mailsFor = (gid: string) => engine.db.selectFrom('outbox_messages').selectAll().where('dedupe_key', 'like', `export-%:${gid}`).execute();

async function stored(key: string): Promise<Buffer> {
  const stream = await blobs.get(key);
  if (!stream) throw new Error(`no blob ${key}`);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function expectExactDocument(gid: string, builder: PlanBuilder) {
  const row = await job(gid);
  expect(row.state).toBe('finished');
  const manifest = row.manifest as ExportManifest;
  const bytes = await stored(row.blob_key!);
  expect(bytes.length).toBe(manifest.bytes);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.sha256);
  const expected = await renderPlanToString(await builder(engine.db, { gid, organizationGid, createdAt: row.created_at, modifiedSince: null, requestedBy: { kind: 'user', gid: 'x' }, baseUrl: '' }));
  const text = (manifest.gzip ? gunzipSync(bytes) : bytes).toString('utf8');
  expect(text.length).toBe(expected.length);
  expect(text === expected).toBe(true);
  expect(manifest.source_bytes).toBe(Buffer.byteLength(expected));
  return { row, manifest, text };
}

const plenty = () => 600_000;

describe('export worker', () => {
  test('a small export finishes in one step: one file, its manifest, one email with the link', async () => {
    const builder = syntheticPlan({ sections: 3, items: 120, itemBytes: 100 });
    const requested = await newJob();
    expect(queue.sent.at(-1)).toEqual({ queue: 'exports', body: { export_gid: requested.gid, step: 0 } });
    expect(await runExportStep(deps, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder) })).toBe('finished');
    const { row, manifest, text } = await expectExactDocument(requested.gid, builder);
    expect(JSON.parse(text)).toHaveProperty('s2');
    expect(manifest.counts).toEqual({ s0: 120, s1: 120, s2: 120 });
    expect(row.expires_at!.getTime() - row.finished_at!.getTime()).toBe(7 * 86_400_000);
    const mails = await mailsFor(requested.gid);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!.payload as { to: string[]; subject: string; text: string };
    expect(mail.to).toEqual(['admin@synthetic.test']);
    expect(mail.text).toContain(`https://tasks.example.test/api/1.0/exports/${requested.gid}/download`);
    expect(mail.text).toContain(manifest.sha256);
    expect(mail.text).not.toMatch(/X-Amz|signature=|expires=/i);
    // The same message again (at-least-once delivery): nothing happens.
    expect(await runExportStep(deps, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder) })).toBe('stale');
    expect(await mailsFor(requested.gid)).toHaveLength(1);
  });

  test('a large export is written in parts across invocations that hand off, and equals the one-go document', async () => {
    let pages = 0;
    // ~16 MB of barely compressible text: at least three parts of 5 MiB.
    const builder = syntheticPlan({ sections: 2, items: 2000, itemBytes: 4000, onPage: () => pages++ });
    const requested = await newJob();
    // Each invocation has time for about one part: the clock of the "remaining time" runs with the pages.
    let step = 0;
    let outcomes: string[] = [];
    for (let guard = 0; guard < 20; guard++) {
      const startPages = pages;
      const remaining = () => (pages - startPages > 40 ? 1_000 : 600_000);
      const outcome = await runExportStep(deps, { export_gid: requested.gid, step }, remaining, { plans: plansFor(builder), partBytes: MIN_PART_BYTES, handOffMarginMs: 5_000 });
      outcomes.push(outcome);
      if (outcome === 'finished') break;
      expect(outcome).toBe('handed-off');
      const sent = queue.sent.at(-1)!;
      expect(sent.body).toEqual({ export_gid: requested.gid, step: step + 1 });
      // The previous step's message, delivered again, is stale.
      expect(await runExportStep(deps, { export_gid: requested.gid, step }, plenty, { plans: plansFor(builder) })).toBe('stale');
      step += 1;
    }
    expect(outcomes.at(-1)).toBe('finished');
    expect(outcomes.filter((o) => o === 'handed-off').length).toBeGreaterThanOrEqual(2);
    const { row, manifest } = await expectExactDocument(requested.gid, builder);
    expect((row.checkpoint as ExportCheckpoint).upload!.parts.length).toBeGreaterThanOrEqual(3);
    expect(manifest.counts).toEqual({ s0: 2000, s1: 2000 });
    expect(row.invocations).toBe(outcomes.length);
    expect(await mailsFor(requested.gid)).toHaveLength(1);
  }, 60_000);

  test('an invocation killed mid-export: the redelivered message resumes at the last part; the zombie cannot write; one file, one email', async () => {
    const builder = syntheticPlan({ sections: 1, items: 3000, itemBytes: 4000 });
    const requested = await newJob();
    // The first invocation "dies" while uploading its second part: the promise never settles until we say so.
    let release!: () => void;
    let calls = 0;
    const hanging: BlobStore = wrapBlobs(blobs, {
      uploadPart: async (key: string, uploadId: string, n: number, body: Uint8Array): Promise<UploadedPart> => {
        calls += 1;
        if (calls === 2) await new Promise<void>((r) => (release = r));
        return blobs.uploadPart(key, uploadId, n, body);
      },
    });
    const zombie = runExportStep({ ...deps, blobs: hanging }, { export_gid: requested.gid, step: 0 }, () => 900_000, { plans: plansFor(builder), partBytes: MIN_PART_BYTES });
    const zombieResult = zombie.then(
      (v) => ({ ok: v }),
      (e: unknown) => ({ error: e as Error }),
    );
    while (calls < 2) await new Promise((r) => setTimeout(r, 20));
    const midway = await job(requested.gid);
    expect((midway.checkpoint as ExportCheckpoint).upload!.parts).toHaveLength(1);
    // While its lease lives, another delivery of the message is told to come back later.
    expect(await runExportStep(deps, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder) })).toBe('busy');
    // The queue redelivers after the visibility timeout; by then the lease has expired.
    clock.advance(901_000 + 60_000);
    expect(await runExportStep(deps, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder), partBytes: MIN_PART_BYTES })).toBe('finished');
    const { manifest } = await expectExactDocument(requested.gid, builder);
    expect(manifest.counts).toEqual({ s0: 3000 });
    // The zombie wakes up: its writes are fenced off, the finished job and its file stay as they are.
    release();
    const outcome = await zombieResult;
    // Its part goes to an upload that is complete (S3: NoSuchUpload), or its checkpoint write finds the claim gone.
    expect(['NoSuchUpload', 'LostClaimError']).toContain('error' in outcome && outcome.error.name);
    await expectExactDocument(requested.gid, builder);
    expect(await mailsFor(requested.gid)).toHaveLength(1);
    // One file: its key is a function of the job alone, so every invocation wrote the same object.
    expect((await job(requested.gid)).blob_key).toBe(`exports/jobs/${organizationGid}/${requested.gid}.json.gz`);
  }, 60_000);

  test('a failing blob store: the step throws and gives its claim back; the retry resumes and finishes once', async () => {
    const builder = syntheticPlan({ sections: 2, items: 1500, itemBytes: 4000 });
    const requested = await newJob();
    let calls = 0;
    const flaky: BlobStore = wrapBlobs(blobs, {
      uploadPart: async (key: string, uploadId: string, n: number, body: Uint8Array) => {
        calls += 1;
        if (calls === 2) throw Object.assign(new Error('SlowDown'), { name: 'SlowDown' });
        return blobs.uploadPart(key, uploadId, n, body);
      },
    });
    await expect(runExportStep({ ...deps, blobs: flaky }, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder), partBytes: MIN_PART_BYTES })).rejects.toThrow('SlowDown');
    const failed = await job(requested.gid);
    expect(failed.state).toBe('started');
    expect(failed.lease_until).toBeNull();
    expect(failed.last_error).toBe('SlowDown');
    expect(await runExportStep({ ...deps, blobs: flaky }, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder), partBytes: MIN_PART_BYTES })).toBe('finished');
    await expectExactDocument(requested.gid, builder);
    expect(await mailsFor(requested.gid)).toHaveLength(1);
  }, 60_000);

  test('dying between completing the upload and recording it: the retry finishes the job without a second file', async () => {
    const builder = syntheticPlan({ sections: 1, items: 50, itemBytes: 100 });
    const requested = await newJob();
    const dying: BlobStore = wrapBlobs(blobs, {
      completeMultipartUpload: async (key: string, uploadId: string, parts: UploadedPart[]) => {
        await blobs.completeMultipartUpload(key, uploadId, parts);
        throw new Error('killed after complete');
      },
    });
    await expect(runExportStep({ ...deps, blobs: dying }, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder) })).rejects.toThrow('killed after complete');
    expect((await job(requested.gid)).state).toBe('started');
    expect(await runExportStep({ ...deps, blobs: dying }, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(builder) })).toBe('finished');
    await expectExactDocument(requested.gid, builder);
  });

  test('a dead-lettered message fails its job with one email; a finished or moved-on job is left alone', async () => {
    const requested = await newJob();
    expect(await failDeadLetteredExport(deps, JSON.stringify({ export_gid: requested.gid, step: 3 }))).toBe(false); // not its step
    expect(await failDeadLetteredExport(deps, 'not json')).toBe(false);
    expect(await failDeadLetteredExport(deps, JSON.stringify({ export_gid: requested.gid, step: 0 }))).toBe(true);
    expect(await failDeadLetteredExport(deps, JSON.stringify({ export_gid: requested.gid, step: 0 }))).toBe(false);
    const row = await job(requested.gid);
    expect(row.state).toBe('error');
    const mails = await mailsFor(requested.gid);
    expect(mails).toHaveLength(1);
    expect((mails[0]!.payload as { subject: string }).subject).toMatch(/failed/);
    // A failed job is not run again.
    expect(await runExportStep(deps, { export_gid: requested.gid, step: 0 }, plenty, { plans: plansFor(syntheticPlan({ sections: 1, items: 1, itemBytes: 1 })) })).toBe('stale');

    const done = await newJob();
    await runExportStep(deps, { export_gid: done.gid, step: 0 }, plenty, { plans: plansFor(syntheticPlan({ sections: 1, items: 1, itemBytes: 1 })) });
    expect(await failExport(deps, done.gid, null, 'late')).toBe(false);
    expect((await job(done.gid)).state).toBe('finished');
  });

  test('the relay re-sends the message of a job that nobody holds and that has not moved for 5 minutes', async () => {
    const requested = await newJob();
    const before = queue.sent.length;
    expect(await relayStalledExports(deps)).toBe(0);
    clock.advance(301_000);
    const restarted = await relayStalledExports(deps);
    expect(restarted).toBeGreaterThanOrEqual(1);
    expect(queue.sent.slice(before).map((m) => m.body)).toContainEqual({ export_gid: requested.gid, step: 0 });
    // Not again right away: re-sending touched it.
    const after = queue.sent.length;
    await relayStalledExports(deps);
    expect(queue.sent.length).toBe(after);
  });

  test('the SQS handler drops malformed messages, acknowledges stale ones and reports failed ones as batch item failures', async () => {
    const requested = await newJob();
    const failing: PlanBuilder = async () => {
      throw new Error('database unavailable');
    };
    const worker = createExportWorker(deps, { plans: plansFor(failing) });
    const record = (messageId: string, body: string) => ({ messageId, body, attributes: { ApproximateReceiveCount: '1' } }) as unknown as SQSRecord;
    const event = { Records: [record('m1', '{"export_gid": "x; drop table"}'), record('m2', 'not json'), record('m3', JSON.stringify({ export_gid: '999999', step: 0 })), record('m4', JSON.stringify({ export_gid: requested.gid, step: 0 }))] } as SQSEvent;
    const result = await worker(event, { getRemainingTimeInMillis: () => 600_000 } as Context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm4' }] });
    expect((await job(requested.gid)).state).toBe('started');
  });
});
