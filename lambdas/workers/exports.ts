/**
 * The export worker: SQS messages {export_gid, step} name a job and the step of it to
 * run. A step claims the job (a conditional update: the same step, no live lease), then
 * writes the document from the job's checkpoint as a stream:
 *
 *   pages of rows (plan.ts) -> text -> [gzip member] -> parts of >= 5 MiB -> multipart upload
 *
 * After every uploaded part it records the checkpoint (where the document stands, the
 * upload id and parts, the running SHA-256 state and byte counts) fenced by the
 * invocation number, so only the holder of the claim writes. When the invocation's time
 * runs low it hands the rest to a new invocation: step + 1 in the row, then a message
 * naming step + 1. A killed or failed invocation leaves its checkpoint; the message comes
 * back after its visibility timeout and the next invocation resumes at the last part
 * (anything after it is written again, identically). Gzip output is a series of gzip
 * members, one per part, which every gzip reader reads as one stream.
 *
 * At-least-once is safe: a stale message (its step is past) or one for a finished job is
 * acknowledged without effect, and a duplicate arriving while the step runs is retried
 * later. The file is completed once and the email is enqueued with the job's finishing
 * update in one transaction (deduplicated by job). After 5 failed receives the message
 * is dead-lettered and the dead-letter handler fails the job with an email.
 */
import { createGzip } from 'node:zlib';
import type { Context, SQSBatchItemFailure, SQSEvent, SQSRecord } from 'aws-lambda';
import { createSHA256, type IHasher } from 'hash-wasm';
import type { WorkerHandler } from '../adapters/ports.js';
import type { AppDeps } from '../domain/deps.js';
import { enqueueReadyMail, failExport, linkLifetimeDays, startStep, storedContentType, type ExportCheckpoint, type ExportJob, type ExportManifest } from '../domain/exports/jobs.js';
import { buildOrganizationExport } from '../domain/exports/organization-export.js';
import { buildTeamCsvExport } from '../domain/exports/team-csv.js';
import { contentDisposition } from '../domain/exports/delivery.js';
import { renderPlan, startPosition, type ExportJobContext, type ExportPlan } from '../domain/exports/plan.js';
import { pokeMailWorker } from '../domain/mail.js';
import type { Db } from '../domain/work/common.js';
import type { ExportKind } from '../db/schema.js';
import { json } from '../db/query.js';
import { logger } from '../shared/logger.js';

export type PlanBuilder = (db: Db, job: ExportJobContext) => Promise<ExportPlan>;

export const PLAN_BUILDERS: Record<ExportKind, PlanBuilder> = {
  organization: buildOrganizationExport,
  team_csv: buildTeamCsvExport,
};

/** S3's smallest part (all but the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface ExportWorkerOptions {
  /** Stored bytes per part (default 8 MiB; at least 5 MiB, S3's minimum). */
  partBytes?: number;
  /** Hand the rest to a new invocation when less than this remains (default 90 s: one part upload and a database write). */
  handOffMarginMs?: number;
  /** The claim outlives the invocation's deadline by this much (default 60 s). */
  leaseMarginSeconds?: number;
  /** Document builders per kind (tests substitute their own). */
  plans?: Record<ExportKind, PlanBuilder>;
}

type WorkerDeps = Pick<AppDeps, 'database' | 'clock' | 'ids' | 'blobs' | 'queue' | 'config'>;

export type StepOutcome = 'finished' | 'handed-off' | 'stale' | 'busy';

interface ExportMessage {
  export_gid: string;
  step: number;
}

function parseMessage(record: SQSRecord): ExportMessage | null {
  try {
    const body = JSON.parse(record.body) as Partial<ExportMessage>;
    if (typeof body.export_gid === 'string' && /^\d{1,32}$/.test(body.export_gid) && Number.isInteger(body.step) && body.step! >= 0) return { export_gid: body.export_gid, step: body.step! };
  } catch {
    // fall through
  }
  return null;
}

export function createExportWorker(deps: WorkerDeps, options: ExportWorkerOptions = {}): WorkerHandler {
  return async (event: SQSEvent, context: Context) => {
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      const message = parseMessage(record);
      if (!message) {
        logger.error('export worker: malformed message dropped', { message_id: record.messageId });
        continue;
      }
      try {
        const outcome = await runExportStep(deps, message, () => context.getRemainingTimeInMillis(), options);
        if (outcome === 'busy') failures.push({ itemIdentifier: record.messageId });
      } catch (error) {
        logger.warn('export step failed; it will be retried', { export_gid: message.export_gid, step: message.step, receive_count: record.attributes?.ApproximateReceiveCount, error: error as Error });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

/** The dead-letter consumer: each message's job ends in error, with an email to its requester. */
export function createExportDeadLetterHandler(deps: Pick<AppDeps, 'database' | 'clock' | 'ids' | 'queue'>): WorkerHandler {
  return async (event: SQSEvent) => {
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      try {
        await failDeadLetteredExport(deps, record.body);
      } catch (error) {
        logger.error('export dead letter: could not fail the job', { message_id: record.messageId, error: error as Error });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

/** One dead-lettered export message (its raw body): the step it names fails, unless the job moved on. */
export async function failDeadLetteredExport(deps: Pick<AppDeps, 'database' | 'clock' | 'ids' | 'queue'>, body: string): Promise<boolean> {
  const message = parseMessage({ body } as SQSRecord);
  if (!message) return false;
  return failExport(deps, message.export_gid, message.step, 'The export could not be completed after repeated attempts');
}

/** Runs one step of a job. Throws when it failed (the message is retried). */
export async function runExportStep(deps: WorkerDeps, message: ExportMessage, remainingMs: () => number, options: ExportWorkerOptions = {}): Promise<StepOutcome> {
  const db = deps.database.db;
  const now = deps.clock.now();
  const leaseUntil = new Date(now.getTime() + remainingMs() + (options.leaseMarginSeconds ?? 60) * 1000);
  const job = await db
    .updateTable('export_jobs')
    .set((eb) => ({
      state: 'started',
      started_at: eb.fn.coalesce('started_at', eb.val(now)),
      lease_until: leaseUntil,
      invocations: eb('invocations', '+', 1),
      modified_at: now,
    }))
    .where('gid', '=', message.export_gid)
    .where('step', '=', message.step)
    .where('state', 'in', ['pending', 'started'])
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .returningAll()
    .executeTakeFirst();
  if (!job) {
    const current = await db.selectFrom('export_jobs').select(['state', 'step', 'lease_until']).where('gid', '=', message.export_gid).executeTakeFirst();
    // A live claim on this very step: another delivery of the message is running it.
    if (current && current.step === message.step && (current.state === 'pending' || current.state === 'started')) return 'busy';
    return 'stale';
  }
  try {
    return await new ExportRun(deps, job, remainingMs, options).run();
  } catch (error) {
    // Give the claim back so the retry need not wait for the lease; keep the checkpoint.
    // Only while the job runs: the error may come after the job ended (the COMMIT that
    // finished it committed and its answer was lost), which must not mark it failed.
    await db
      .updateTable('export_jobs')
      .set({ lease_until: null, last_error: error instanceof Error ? `${error.name}`.slice(0, 500) : 'failed' })
      .where('gid', '=', job.gid)
      .where('invocations', '=', job.invocations)
      .where('state', '=', 'started')
      .execute()
      .catch(() => undefined);
    throw error;
  }
}

/** The claim was lost (another invocation took the job over): stop without writing. */
class LostClaimError extends Error {
  override name = 'LostClaimError';
}

/**
 * zlib's level for exports. On an organization export's text (measured on this project's
 * benchmark data) level 5 compresses 1.4x faster than the default 6 for a file 4% larger
 * (11.5:1 against 12.0:1); level 3 is faster still but 18% larger.
 */
const GZIP_LEVEL = 5;

/** Text in, stored bytes out: one gzip member per part, or the UTF-8 text itself. */
class PartBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  #gzip: ReturnType<typeof createGzip> | null = null;
  sourceBytes = 0;

  constructor(private readonly compress: boolean) {}

  get size() {
    return this.#size;
  }

  async write(text: string): Promise<void> {
    if (!text) return;
    const bytes = Buffer.from(text, 'utf8');
    this.sourceBytes += bytes.length;
    if (!this.compress) {
      this.#push(bytes);
      return;
    }
    if (!this.#gzip) {
      this.#gzip = createGzip({ level: GZIP_LEVEL });
      this.#gzip.on('data', (chunk: Buffer) => this.#push(chunk));
    }
    const gzip = this.#gzip;
    await new Promise<void>((done, failed) => gzip.write(bytes, (error) => (error ? failed(error) : done())));
  }

  /** Ends the current gzip member and hands over everything buffered. */
  async take(): Promise<Buffer> {
    const gzip = this.#gzip;
    if (gzip) {
      this.#gzip = null;
      await new Promise<void>((done, failed) => {
        gzip.once('end', done);
        gzip.once('error', failed);
        gzip.end();
      });
    }
    const out = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#size = 0;
    return out;
  }

  discard(): void {
    this.sourceBytes = 0;
    this.#gzip?.destroy();
    this.#gzip = null;
    this.#chunks = [];
    this.#size = 0;
  }

  #push(chunk: Buffer) {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }
}

class ExportRun {
  readonly #db: Db;
  readonly #partBytes: number;
  readonly #margin: number;
  readonly #plans: Record<ExportKind, PlanBuilder>;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly job: ExportJob,
    private readonly remainingMs: () => number,
    options: ExportWorkerOptions,
  ) {
    this.#db = deps.database.db;
    this.#partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? 8 * 1024 * 1024);
    this.#margin = options.handOffMarginMs ?? 90_000;
    this.#plans = options.plans ?? PLAN_BUILDERS;
  }

  async run(): Promise<StepOutcome> {
    const job = this.job;
    const plan = await this.#plans[job.kind](this.#db, {
      gid: job.gid,
      organizationGid: job.organization_gid,
      createdAt: job.created_at,
      modifiedSince: job.modified_since,
      requestedBy: job.requested_by_user ? { kind: 'user', gid: job.requested_by_user } : { kind: 'service_account', gid: job.requested_by_service_account! },
      baseUrl: job.base_url,
    });
    const checkpoint: ExportCheckpoint = (job.checkpoint as ExportCheckpoint | null) ?? { position: startPosition(), upload: null, sha256_state: null, bytes: 0, source_bytes: 0, completing: false };
    if (checkpoint.completing) return this.#complete(plan, checkpoint);

    const key = `exports/jobs/${job.organization_gid}/${job.gid}.${plan.gzip ? 'json.gz' : 'csv'}`;
    if (!checkpoint.upload) {
      const { uploadId } = await this.deps.blobs.createMultipartUpload(key, { contentType: plan.gzip ? 'application/gzip' : plan.contentType, contentDisposition: contentDisposition('attachment', plan.filename) });
      checkpoint.upload = { key, upload_id: uploadId, parts: [] };
      await this.#save(checkpoint);
    }
    const sha = await createSHA256();
    if (checkpoint.sha256_state) sha.load(Buffer.from(checkpoint.sha256_state, 'base64'));
    else sha.init();

    const buffer = new PartBuffer(plan.gzip);
    let partsThisInvocation = 0;
    let final: ExportCheckpoint['position'] | undefined;
    try {
      for await (const piece of renderPlan(plan, checkpoint.position)) {
        if ('text' in piece) {
          await buffer.write(piece.text);
          continue;
        }
        if (piece.checkpoint.section === plan.sections.length) {
          final = piece.checkpoint;
          break;
        }
        if (buffer.size >= this.#partBytes) {
          await this.#uploadPart(checkpoint, sha, await buffer.take(), buffer, piece.checkpoint);
          partsThisInvocation += 1;
        }
        if (partsThisInvocation > 0 && this.remainingMs() < this.#margin) {
          // Whatever was written since the last part is written again by the next invocation.
          buffer.discard();
          return this.#handOff();
        }
      }
      // The last part (any size) and the end.
      const last = await buffer.take();
      // A plan without sections ends without a checkpoint.
      await this.#uploadPart(checkpoint, sha, last, buffer, final ?? { ...checkpoint.position, section: plan.sections.length }, true);
    } finally {
      buffer.discard();
    }
    return this.#complete(plan, checkpoint);
  }

  async #uploadPart(checkpoint: ExportCheckpoint, sha: IHasher, bytes: Buffer, buffer: PartBuffer, position: ExportCheckpoint['position'], last = false) {
    const upload = checkpoint.upload!;
    const partNumber = upload.parts.length + 1;
    const part = await this.deps.blobs.uploadPart(upload.key, upload.upload_id, partNumber, bytes);
    sha.update(bytes);
    upload.parts.push({ partNumber: part.partNumber, etag: part.etag });
    checkpoint.position = position;
    checkpoint.sha256_state = Buffer.from(sha.save()).toString('base64');
    checkpoint.bytes += bytes.length;
    checkpoint.source_bytes += buffer.sourceBytes;
    buffer.sourceBytes = 0;
    if (last) checkpoint.completing = true;
    await this.#save(checkpoint);
  }

  /** Writes the checkpoint if this invocation still holds the claim. */
  async #save(checkpoint: ExportCheckpoint) {
    const row = await this.#db
      .updateTable('export_jobs')
      .set({ checkpoint: json(checkpoint), modified_at: this.deps.clock.now() })
      .where('gid', '=', this.job.gid)
      .where('invocations', '=', this.job.invocations)
      .where('state', '=', 'started')
      .returning('gid')
      .executeTakeFirst();
    if (!row) throw new LostClaimError(`export ${this.job.gid}: claim lost`);
  }

  async #handOff(): Promise<StepOutcome> {
    const next = this.job.step + 1;
    const row = await this.#db
      .updateTable('export_jobs')
      .set({ step: next, lease_until: null, modified_at: this.deps.clock.now() })
      .where('gid', '=', this.job.gid)
      .where('invocations', '=', this.job.invocations)
      .returning('gid')
      .executeTakeFirst();
    if (!row) throw new LostClaimError(`export ${this.job.gid}: claim lost`);
    await startStep(this.deps, this.job.gid, next);
    logger.info('export handed off to a new invocation', { export_gid: this.job.gid, step: next });
    return 'handed-off';
  }

  async #complete(plan: ExportPlan, checkpoint: ExportCheckpoint): Promise<StepOutcome> {
    const upload = checkpoint.upload!;
    // A previous invocation may have completed the upload and died before the job row said so.
    if (!(await this.deps.blobs.head(upload.key))) await this.deps.blobs.completeMultipartUpload(upload.key, upload.upload_id, upload.parts);
    const sha = await createSHA256();
    sha.load(Buffer.from(checkpoint.sha256_state!, 'base64'));
    const manifest: ExportManifest = {
      counts: checkpoint.position.counts,
      bytes: checkpoint.bytes,
      source_bytes: checkpoint.source_bytes,
      sha256: sha.digest('hex'),
      content_type: plan.contentType,
      gzip: plan.gzip,
      filename: plan.filename,
    };
    const now = this.deps.clock.now();
    const expiresAt = new Date(now.getTime() + linkLifetimeDays(this.deps) * 86_400_000);
    const mailGid = await this.#db.transaction().execute(async (trx) => {
      const finished = await trx
        .updateTable('export_jobs')
        .set({ state: 'finished', finished_at: now, expires_at: expiresAt, blob_key: upload.key, manifest: json(manifest), checkpoint: json(checkpoint), lease_until: null, modified_at: now, last_error: null })
        .where('gid', '=', this.job.gid)
        .where('invocations', '=', this.job.invocations)
        .where('state', '=', 'started')
        .returningAll()
        .executeTakeFirst();
      if (!finished) throw new LostClaimError(`export ${this.job.gid}: claim lost`);
      return enqueueReadyMail(trx, this.deps, finished, manifest, expiresAt);
    });
    await pokeMailWorker(this.deps, [mailGid]);
    logger.info('export finished', { export_gid: this.job.gid, kind: this.job.kind, bytes: manifest.bytes, counts: manifest.counts, content_type: storedContentType(manifest) });
    return 'finished';
  }
}
