/**
 * Snapshot retention and cross-region copy decisions, in one place and without any
 * AWS SDK: given what exists in both regions, what should the copier do now?
 *
 * - One manual snapshot per interval slot; its identifier is derived from the slot, so a
 *   retried or overlapping run cannot take two.
 * - Finished snapshots are copied to the DR region under the same identifier, newest
 *   first, never more than `maxInFlight` copies running at once.
 * - Past retention, source snapshots and DR copies are deleted, except the newest
 *   finished one on each side and anything a copy is still reading from.
 * - Only snapshots carrying the copier's tag are ever touched.
 */

export interface SnapshotInfo {
  id: string;
  arn: string;
  /** RDS status: creating, available, copying, failed, ... */
  status: string;
  /** When the snapshot was taken (absent while RDS has not set it yet). */
  createdAt?: Date;
  tags: Record<string, string>;
}

export interface CopierPolicy {
  appName: string;
  /** Identifier prefix, e.g. asana-backend-snap. */
  prefix: string;
  intervalHours: number;
  retentionDays: number;
  maxInFlight: number;
}

export interface CopierState {
  now: Date;
  /** Status of the source cluster (a snapshot is only taken when it is available). */
  clusterStatus: string;
  /** Manual snapshots of the source cluster, in the primary region. */
  sources: SnapshotInfo[];
  /** Manual snapshots in the DR region. */
  copies: SnapshotInfo[];
}

export interface PlannedCopy {
  source: SnapshotInfo;
  targetId: string;
  tags: Record<string, string>;
}

export interface CopierPlan {
  create: { id: string; tags: Record<string, string> } | null;
  copy: PlannedCopy[];
  deleteSources: SnapshotInfo[];
  deleteCopies: SnapshotInfo[];
  /** Copies running before this run's new ones. */
  inFlight: number;
  /** Age of the newest finished DR copy (see newestCopyAgeSeconds). */
  newestCopyAgeSeconds: number;
  /** Why something was not done, for the log. */
  notes: string[];
}

export const TAGS = {
  managedBy: 'snapshot-copier',
  source: 'snapshot-copier-source',
  sourceCreated: 'snapshot-copier-source-created',
} as const;

/** The CloudWatch metric the copier publishes (the backup stack alarms on it). */
export const NEWEST_COPY_AGE_METRIC = 'NewestDrCopyAgeSeconds';

const IN_PROGRESS = new Set(['creating', 'copying', 'pending']);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const isInProgress = (s: SnapshotInfo) => IN_PROGRESS.has(s.status);
export const isAvailable = (s: SnapshotInfo) => s.status === 'available';
/** Made or copied by this app's copier. */
export const isOwn = (s: SnapshotInfo, appName: string) => s.tags[TAGS.managedBy] === appName;

/** Start of the interval slot `now` falls in (slots are aligned to the Unix epoch, UTC). */
export function slotStart(now: Date, intervalHours: number): Date {
  const size = intervalHours * HOUR_MS;
  return new Date(Math.floor(now.getTime() / size) * size);
}

/** e.g. asana-backend-snap-202601021200 (letters, digits and hyphens, as RDS requires). */
export function snapshotIdForSlot(prefix: string, slot: Date): string {
  const stamp = slot.toISOString().slice(0, 16).replace(/[-T:]/g, '');
  return `${prefix}-${stamp}`;
}

/** When the data in a snapshot (or in the source of a copy) was taken. */
export function takenAt(s: SnapshotInfo): Date | undefined {
  const tagged = s.tags[TAGS.sourceCreated];
  if (tagged) {
    const date = new Date(tagged);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return s.createdAt;
}

const newestFirst = (a: SnapshotInfo, b: SnapshotInfo) => (takenAt(b)?.getTime() ?? 0) - (takenAt(a)?.getTime() ?? 0);

/**
 * Seconds since the newest finished DR copy was taken. With no finished copy yet: since
 * the oldest snapshot waiting to be copied (how long the DR region has been behind), or
 * 0 when there is nothing to copy at all (first run).
 */
export function newestCopyAgeSeconds(now: Date, sources: SnapshotInfo[], copies: SnapshotInfo[]): number {
  const finished = copies.filter(isAvailable).sort(newestFirst)[0];
  const reference = finished ? takenAt(finished) : sources.map(takenAt).filter((d): d is Date => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
  if (!reference) return 0;
  return Math.max(0, Math.floor((now.getTime() - reference.getTime()) / 1000));
}

export function planCopierRun(state: CopierState, policy: CopierPolicy): CopierPlan {
  const notes: string[] = [];
  const now = state.now.getTime();
  const retentionMs = policy.retentionDays * DAY_MS;
  const expired = (s: SnapshotInfo) => {
    const taken = takenAt(s);
    return taken !== undefined && now - taken.getTime() > retentionMs;
  };
  const sources = state.sources.filter((s) => isOwn(s, policy.appName));
  const copies = state.copies.filter((s) => isOwn(s, policy.appName));
  const copyById = new Map(copies.map((c) => [c.id, c]));

  // 1. This slot's snapshot.
  let create: CopierPlan['create'] = null;
  const id = snapshotIdForSlot(policy.prefix, slotStart(state.now, policy.intervalHours));
  if (state.sources.some((s) => s.id === id)) {
    // already taken in this slot
  } else if (sources.some((s) => s.status === 'creating')) {
    notes.push('a snapshot is still being created; the next one waits');
  } else if (state.clusterStatus !== 'available') {
    notes.push(`cluster is ${state.clusterStatus}, not available; no snapshot this run`);
  } else {
    create = { id, tags: { [TAGS.managedBy]: policy.appName } };
  }

  // 2. Broken copies are removed (and copied again on a later run).
  const broken = copies.filter((c) => !isAvailable(c) && !isInProgress(c));

  // 3. Copies of finished, unexpired sources that have none yet, newest first, up to the cap.
  const inFlight = copies.filter(isInProgress).length;
  const slots = Math.max(0, policy.maxInFlight - inFlight);
  const waiting = sources.filter((s) => isAvailable(s) && !expired(s) && !copyById.has(s.id)).sort(newestFirst);
  if (waiting.length > slots) notes.push(`${waiting.length - slots} snapshot(s) wait for a copy slot (${inFlight} of ${policy.maxInFlight} in flight)`);
  const copy = waiting.slice(0, slots).map((source) => ({
    source,
    targetId: source.id,
    tags: {
      [TAGS.managedBy]: policy.appName,
      [TAGS.source]: source.arn,
      ...(takenAt(source) ? { [TAGS.sourceCreated]: takenAt(source)!.toISOString() } : {}),
    },
  }));

  // 4. Retention: keep the newest finished snapshot on each side whatever its age.
  const newestSource = sources.filter(isAvailable).sort(newestFirst)[0];
  const beingCopied = new Set(copies.filter(isInProgress).map((c) => c.id));
  const deleteSources = sources.filter(
    (s) => s !== newestSource && !isInProgress(s) && expired(s) && !beingCopied.has(s.id) && !copy.some((c) => c.source === s),
  );
  const newestCopy = copies.filter(isAvailable).sort(newestFirst)[0];
  const deleteCopies = [...broken, ...copies.filter((c) => c !== newestCopy && isAvailable(c) && expired(c))];

  return {
    create,
    copy,
    deleteSources,
    deleteCopies,
    inFlight,
    newestCopyAgeSeconds: newestCopyAgeSeconds(state.now, sources, copies),
    notes,
  };
}
