/**
 * Asynchronous exports (team CSV, full organization JSON) as jobs: requesting one,
 * reading its status, downloading its file, and failing it. The worker that writes the
 * file is lambdas/workers/exports.ts; the document contents are team-csv.ts and
 * organization-export.ts; the format is docs/export-format.md.
 *
 * A job row is the export. Its gid is what the API returns and what the emailed link
 * names: {base}/api/1.0/exports/{gid}/download. That link never carries a pre-signed
 * URL: each click re-checks access and answers a redirect to a download signed for at
 * most 5 minutes. After the link lifetime (7 days by default) the file is gone (bucket
 * lifecycle) and the link answers 410.
 */
import type { ExportJobsTable, ExportKind, ExportState } from '../../db/schema.js';
import type { Selectable } from 'kysely';
import { exportJobReader, exportRequesterRule } from '../access/policy.js';
import type { Principal } from '../auth/sessions.js';
import { recordAudit } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { GoneError, HttpError, NotFoundError } from '../errors.js';
import { enqueueMail, pokeMailWorker } from '../mail.js';
import { logger } from '../../shared/logger.js';
import { userCompact, workspaceCompact } from '../work/present.js';
import type { ExportPosition } from './plan.js';

export type ExportJob = Selectable<ExportJobsTable>;

/** How long an emailed link (and the file behind it) lives, unless configured. */
export const DEFAULT_EXPORT_LINK_DAYS = 7;
/** A download redirect is signed for this long (the emailed link itself never expires early). */
export const DOWNLOAD_REDIRECT_SECONDS = 300;
/** GET /organization_exports/{gid} signs its download_url for this long (Asana: "valid for 1 hour"). */
export const STATUS_DOWNLOAD_URL_SECONDS = 3600;

/** What the worker keeps between parts and invocations (export_jobs.checkpoint). */
export interface ExportCheckpoint {
  /** The next thing to write: everything before it is in the uploaded parts. */
  position: ExportPosition;
  /** The multipart upload under way. */
  upload: { key: string; upload_id: string; parts: { partNumber: number; etag: string }[] } | null;
  /** hash-wasm SHA-256 state over the stored bytes so far (base64). */
  sha256_state: string | null;
  /** Stored bytes uploaded (compressed when gzip). */
  bytes: number;
  /** Document bytes written (before compression). */
  source_bytes: number;
  /** Set once the last part is uploaded: only completing the upload and the job remain. */
  completing: boolean;
}

export interface ExportManifest {
  /** Objects (rows, for CSV) written per section. */
  counts: Record<string, number>;
  /** Size of the stored file, and of the document before compression. */
  bytes: number;
  source_bytes: number;
  /** SHA-256 (hex) of the stored file, as downloaded. */
  sha256: string;
  content_type: string;
  gzip: boolean;
  filename: string;
}

export const linkLifetimeDays = (deps: Pick<AppDeps, 'config'>) => deps.config.exportLinkDays ?? DEFAULT_EXPORT_LINK_DAYS;

/** The link the requester is emailed (and that the status answers name). */
export const downloadLink = (job: Pick<ExportJob, 'gid' | 'base_url'>) => `${job.base_url.replace(/\/+$/, '')}/api/1.0/exports/${job.gid}/download`;

// --- Requesting --------------------------------------------------------------------

export interface ExportRequest {
  organizationGid: string;
  kind: ExportKind;
  modifiedSince?: Date | null;
  baseUrl: string;
  ip: string;
  userAgent: string;
}

/**
 * Creates the job (after the policy allowed the request) and asks the worker to start.
 * If the queue is unavailable the job still exists and the relay starts it later.
 */
export async function requestExport(deps: AppDeps, principal: Principal, request: ExportRequest): Promise<ExportJob> {
  const db = deps.database.db;
  await exportRequesterRule(db, principal, request.organizationGid, request.kind);
  const now = deps.clock.now();
  const gid = deps.ids.gid();
  const job = await db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('export_jobs')
      .values({
        gid,
        organization_gid: request.organizationGid,
        kind: request.kind,
        requested_by_user: principal.kind === 'user' ? principal.user.gid : null,
        requested_by_service_account: principal.kind === 'service_account' ? principal.gid : null,
        base_url: request.baseUrl.replace(/\/+$/, ''),
        modified_since: request.modifiedSince ?? null,
        created_at: now,
        modified_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, deps, {
      organizationGid: request.organizationGid,
      type: request.kind === 'organization' ? 'organization_export_requested' : 'team_export_requested',
      category: 'exports',
      actor: principal.kind === 'user' ? { type: 'user', gid: principal.user.gid } : { type: 'service_account', gid: principal.gid },
      resource: { type: 'export', gid },
      ip: request.ip,
      userAgent: request.userAgent,
      details: request.modifiedSince ? { modified_since: request.modifiedSince.toISOString() } : {},
    });
    return row;
  });
  await startStep(deps, gid, 0);
  return job;
}

/** Best effort: a lost message is re-sent by relayStalledExports. */
export async function startStep(deps: Pick<AppDeps, 'queue'>, gid: string, step: number): Promise<void> {
  try {
    await deps.queue.send('exports', { export_gid: gid, step });
  } catch (error) {
    logger.warn('export queue unavailable; the relay will start the export later', { export_gid: gid, step, error: error as Error });
  }
}

/**
 * Scheduled with the outbox relay: re-sends the message of every unfinished job that
 * nobody holds and that has not moved for `idleSeconds` (its message was lost, or a
 * hand-off could not be sent). A duplicate is harmless: messages name a step.
 */
export async function relayStalledExports(deps: Pick<AppDeps, 'database' | 'clock' | 'queue'>, idleSeconds = 300, limit = 100): Promise<number> {
  const now = deps.clock.now();
  const before = new Date(now.getTime() - idleSeconds * 1000);
  // One statement marks them (so the next run leaves them alone for idleSeconds) and lists them.
  const rows = await deps.database.db
    .updateTable('export_jobs')
    .set({ modified_at: now })
    .where('gid', 'in', (q) =>
      q
        .selectFrom('export_jobs')
        .select('gid')
        .where('state', 'in', ['pending', 'started'])
        .where('modified_at', '<', before)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .orderBy('modified_at')
        .orderBy('gid')
        .limit(limit),
    )
    .returning(['gid', 'step'])
    .execute();
  for (const row of rows) await startStep(deps, row.gid, row.step);
  return rows.length;
}

// --- Reading -----------------------------------------------------------------------

/** The job if the principal may read it (requester, admin of its organization, or an exports service account of it); 404 otherwise. */
export async function readableJob(deps: Pick<AppDeps, 'database'>, principal: Principal, gid: string, kind?: ExportKind): Promise<ExportJob> {
  const db = deps.database.db;
  const job = await db.selectFrom('export_jobs').selectAll().where('gid', '=', gid).executeTakeFirst();
  if (!job || (kind && job.kind !== kind) || !(await exportJobReader(db, principal, job))) throw new NotFoundError('Export not found');
  return job;
}

/** Progress as the status shows it: sections finished, objects and bytes written so far. */
export function progressOf(job: ExportJob) {
  const checkpoint = job.checkpoint as ExportCheckpoint | null;
  const manifest = job.manifest as ExportManifest | null;
  const counts = manifest?.counts ?? checkpoint?.position.counts ?? {};
  return {
    entities_done: manifest ? Object.keys(counts).length : (checkpoint?.position.section ?? 0),
    rows_written: Object.values(counts).reduce((a, b) => a + b, 0),
    bytes_written: manifest?.bytes ?? checkpoint?.bytes ?? 0,
  };
}

const isExpired = (job: ExportJob, now: Date) => job.expires_at !== null && job.expires_at.getTime() <= now.getTime();

async function signedDownload(deps: Pick<AppDeps, 'blobs'>, job: ExportJob, seconds: number): Promise<string | null> {
  const manifest = job.manifest as ExportManifest;
  if (!job.blob_key || !(await deps.blobs.head(job.blob_key))) return null;
  return deps.blobs.signedGetUrl(job.blob_key, { expiresInSeconds: seconds, downloadFilename: manifest.filename, contentType: storedContentType(manifest) });
}

export const storedContentType = (manifest: Pick<ExportManifest, 'gzip' | 'content_type'>) => (manifest.gzip ? 'application/gzip' : manifest.content_type);

/** Asana's organization_export, plus our progress and manifest. */
export async function organizationExportView(deps: Pick<AppDeps, 'database' | 'blobs' | 'clock'>, job: ExportJob) {
  const organization = await deps.database.db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', job.organization_gid).executeTakeFirstOrThrow();
  const finished = job.state === 'finished' && !isExpired(job, deps.clock.now());
  return {
    gid: job.gid,
    resource_type: 'organization_export' as const,
    created_at: job.created_at.toISOString(),
    // Fresh on every read, never stored; null while unfinished and after the file expired.
    download_url: finished ? await signedDownload(deps, job, STATUS_DOWNLOAD_URL_SECONDS) : null,
    state: job.state as ExportState,
    organization: workspaceCompact(organization),
    modified_since: job.modified_since?.toISOString() ?? null,
    progress: progressOf(job),
    manifest: (job.manifest as ExportManifest | null) ?? null,
    expires_at: job.expires_at?.toISOString() ?? null,
  };
}

/** Any export job, as GET /exports/{gid} shows it. */
export async function exportJobView(deps: Pick<AppDeps, 'database'>, job: ExportJob) {
  const db = deps.database.db;
  const [organization, user] = await Promise.all([
    db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', job.organization_gid).executeTakeFirstOrThrow(),
    job.requested_by_user ? db.selectFrom('users').select(['gid', 'name']).where('gid', '=', job.requested_by_user).executeTakeFirst() : undefined,
  ]);
  return {
    gid: job.gid,
    resource_type: 'export' as const,
    kind: job.kind,
    state: job.state as ExportState,
    organization: workspaceCompact(organization),
    requested_by: user ? userCompact(user) : { gid: job.requested_by_service_account!, resource_type: 'service_account' as const },
    created_at: job.created_at.toISOString(),
    finished_at: job.finished_at?.toISOString() ?? null,
    expires_at: job.expires_at?.toISOString() ?? null,
    modified_since: job.modified_since?.toISOString() ?? null,
    progress: progressOf(job),
    manifest: (job.manifest as ExportManifest | null) ?? null,
    download_link: job.state === 'finished' ? downloadLink(job) : null,
  };
}

/**
 * GET /exports/{gid}/download: access re-checked on every click, then a redirect to a
 * download signed for 5 minutes. 409 while unfinished or failed, 410 once expired.
 */
export async function downloadExport(deps: AppDeps, principal: Principal, gid: string, meta: { ip: string; userAgent: string }): Promise<string> {
  const job = await readableJob(deps, principal, gid);
  if (job.state === 'error') throw new HttpError(409, 'This export failed; request a new one');
  if (job.state !== 'finished') throw new HttpError(409, `This export is not ready yet (state: ${job.state}); the link is emailed when it is`);
  if (isExpired(job, deps.clock.now())) throw new GoneError(`This export expired on ${job.expires_at!.toISOString()}; request a new one`);
  const url = await signedDownload(deps, job, DOWNLOAD_REDIRECT_SECONDS);
  if (!url) throw new GoneError('This export is no longer available; request a new one');
  await recordAudit(deps.database.db, deps, {
    organizationGid: job.organization_gid,
    type: 'export_downloaded',
    category: 'exports',
    actor: principal.kind === 'user' ? { type: 'user', gid: principal.user.gid } : { type: 'service_account', gid: principal.gid },
    resource: { type: 'export', gid: job.gid },
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  return url;
}

// --- Emails ------------------------------------------------------------------------

const KIND_NAMES: Record<ExportKind, string> = { organization: 'organization export', team_csv: 'team export (CSV)' };

/** The requester's address (users only: service accounts poll the status instead), and the organization's name. */
async function requesterAndOrganization(db: AppDeps['database']['db'], job: ExportJob) {
  const organization = await db.selectFrom('organizations').select('name').where('gid', '=', job.organization_gid).executeTakeFirstOrThrow();
  const user = job.requested_by_user ? await db.selectFrom('users').select(['email', 'name']).where('gid', '=', job.requested_by_user).where('deleted_at', 'is', null).executeTakeFirst() : undefined;
  return { organizationName: organization.name, user };
}

export function readyMail(job: ExportJob, organizationName: string, manifest: ExportManifest, expiresAt: Date) {
  const counts = Object.entries(manifest.counts)
    .map(([name, n]) => `  ${name}: ${n}`)
    .join('\n');
  return {
    subject: `Your ${KIND_NAMES[job.kind]} of ${organizationName} is ready`,
    text: [
      `The ${KIND_NAMES[job.kind]} of ${organizationName} you requested on ${job.created_at.toISOString()} is ready.`,
      '',
      `Download it (sign in if asked; the link works until ${expiresAt.toISOString()}):`,
      downloadLink(job),
      '',
      `File: ${manifest.filename}${manifest.gzip ? ' (gzip-compressed JSON)' : ''}`,
      `Size: ${manifest.bytes} bytes`,
      `SHA-256: ${manifest.sha256}`,
      'Contents:',
      counts || '  (empty)',
      '',
      'Only you and the administrators of the organization can use this link.',
    ].join('\n'),
  };
}

/** Enqueues (in the caller's transaction) the email that the export is ready; deduplicated per job. */
export async function enqueueReadyMail(trx: AppDeps['database']['db'], deps: Pick<AppDeps, 'ids' | 'clock'>, job: ExportJob, manifest: ExportManifest, expiresAt: Date): Promise<string | null> {
  const { organizationName, user } = await requesterAndOrganization(trx, job);
  if (!user) return null;
  return enqueueMail(trx, deps, { to: [user.email], ...readyMail(job, organizationName, manifest, expiresAt) }, `export-ready:${job.gid}`);
}

/**
 * Ends a job in state error (unless it already finished) and emails the requester; used
 * when its message was dead-lettered. Only the step the message named is failed: a job
 * that moved on since is left alone. Idempotent.
 */
export async function failExport(deps: Pick<AppDeps, 'database' | 'clock' | 'ids' | 'queue'>, gid: string, step: number | null, reason: string): Promise<boolean> {
  const db = deps.database.db;
  const now = deps.clock.now();
  const mailGid = await db.transaction().execute(async (trx) => {
    let update = trx
      .updateTable('export_jobs')
      .set({ state: 'error', lease_until: null, modified_at: now, last_error: reason.slice(0, 500) })
      .where('gid', '=', gid)
      .where('state', 'in', ['pending', 'started']);
    if (step !== null) update = update.where('step', '=', step);
    const job = await update.returningAll().executeTakeFirst();
    if (!job) return undefined;
    const { organizationName, user } = await requesterAndOrganization(trx, job);
    if (!user) return null;
    return enqueueMail(
      trx,
      deps,
      {
        to: [user.email],
        subject: `Your ${KIND_NAMES[job.kind]} of ${organizationName} failed`,
        text: [
          `The ${KIND_NAMES[job.kind]} of ${organizationName} you requested on ${job.created_at.toISOString()} could not be completed.`,
          '',
          `Export id: ${job.gid}`,
          'Please request a new export. If it fails again, contact your administrator with the export id.',
        ].join('\n'),
      },
      `export-failed:${job.gid}`,
    );
  });
  if (mailGid === undefined) return false;
  logger.error('export failed', { export_gid: gid, step, reason });
  await pokeMailWorker(deps, [mailGid]);
  return true;
}

/**
 * Daily: deletes the files of exports whose link has expired (the bucket's lifecycle rule
 * does it too in AWS; locally this is the only cleanup) and of failed exports. Deleting a
 * missing file is not an error, so a job is handled on the runs of the two days after it
 * expired (a missed daily run is caught up) and then left alone. Returns the number of
 * files deleted (or found gone).
 */
export async function purgeExpiredExports(deps: Pick<AppDeps, 'database' | 'clock' | 'blobs'>, lookBackDays = 2): Promise<number> {
  const now = deps.clock.now();
  const since = new Date(now.getTime() - lookBackDays * 86_400_000);
  const rows = await deps.database.db
    .selectFrom('export_jobs')
    .select(['gid', 'organization_gid', 'kind', 'blob_key', 'checkpoint'])
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'finished'), eb('expires_at', '<=', now), eb('expires_at', '>', since)]),
        eb.and([eb('state', '=', 'error'), eb('modified_at', '>', since)]),
      ]),
    )
    .execute();
  let deleted = 0;
  for (const row of rows) {
    const upload = (row.checkpoint as ExportCheckpoint | null)?.upload;
    const key = row.blob_key ?? upload?.key;
    if (!key) continue;
    // A failed export may have left an unfinished upload (S3 also aborts those by lifecycle).
    if (!row.blob_key && upload) await deps.blobs.abortMultipartUpload(upload.key, upload.upload_id).catch(() => undefined);
    // Deleting needs no read access: the purge function may only delete under exports/.
    await deps.blobs.delete(key);
    deleted += 1;
  }
  return deleted;
}
