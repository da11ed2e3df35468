/**
 * The snapshot copier: the pure decisions (lambdas/domain/snapshots.ts) and the function
 * against RDS in two regions (aws-sdk-client-mock answering from a small in-memory RDS
 * per region, so runs can be repeated as time passes and snapshots finish).
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { CloudWatchClient, PutMetricDataCommand, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import {
  CopyDBClusterSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  DBClusterSnapshotAlreadyExistsFault,
  DBClusterSnapshotNotFoundFault,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  KMSKeyNotAccessibleFault,
  RDSClient,
  type CopyDBClusterSnapshotCommandInput,
  type CreateDBClusterSnapshotCommandInput,
  type DBClusterSnapshot,
  type DescribeDBClusterSnapshotsCommandInput,
  type DescribeDBClustersCommandInput,
} from '@aws-sdk/client-rds';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

type RdsStub = AwsClientStub<RDSClient>;
import {
  TAGS,
  newestCopyAgeSeconds,
  planCopierRun,
  slotStart,
  snapshotIdForSlot,
  type CopierPolicy,
  type SnapshotInfo,
} from '../../lambdas/domain/snapshots.js';
import type { CopierConfig } from '../../lambdas/handlers/snapshot-copier.js';
import { logger } from '../../lambdas/shared/logger.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const DR = 'us-west-2';
const APP = 'asana-backend';
const CLUSTER = `${APP}-db`;
const PREFIX = `${APP}-snap`;
const DR_KEY = `arn:aws:kms:${DR}:${ACCOUNT}:alias/${APP}-dr-snapshots`;

const policy: CopierPolicy = { appName: APP, prefix: PREFIX, intervalHours: 6, retentionDays: 7, maxInFlight: 5 };

/** The deployed environment; set before the handler module creates its clients. */
const ENV = {
  APP_NAME: APP,
  SOURCE_CLUSTER_ID: CLUSTER,
  DR_REGION: DR,
  SNAPSHOT_PREFIX: PREFIX,
  DR_KMS_KEY_ARN: DR_KEY,
  SNAPSHOT_INTERVAL_HOURS: '6',
  SNAPSHOT_RETENTION_DAYS: '7',
  MAX_COPIES_IN_FLIGHT: '5',
  METRIC_NAMESPACE: `${APP}/Backups`,
  AWS_REGION: PRIMARY,
};

let copier: typeof import('../../lambdas/handlers/snapshot-copier.js');
beforeAll(async () => {
  logger.setLogLevel('SILENT');
  Object.assign(process.env, ENV);
  copier = await import('../../lambdas/handlers/snapshot-copier.js');
});

// ---------------------------------------------------------------------------------------
// Pure decisions
// ---------------------------------------------------------------------------------------

const snap = (id: string, status: string, takenAgoMs: number, now: Date, extraTags: Record<string, string> = {}, own = true): SnapshotInfo => ({
  id,
  arn: `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster-snapshot:${id}`,
  status,
  createdAt: new Date(now.getTime() - takenAgoMs),
  tags: { ...(own ? { [TAGS.managedBy]: APP } : {}), ...extraTags },
});
const copyOf = (source: SnapshotInfo, status: string): SnapshotInfo => ({
  ...source,
  arn: source.arn.replace(PRIMARY, DR),
  status,
  tags: { [TAGS.managedBy]: APP, [TAGS.source]: source.arn, [TAGS.sourceCreated]: source.createdAt!.toISOString() },
});

describe('snapshot decisions (pure)', () => {
  const now = new Date('2026-03-10T13:47:00Z');

  test('one snapshot per interval slot, named after the slot', () => {
    expect(slotStart(now, 6).toISOString()).toBe('2026-03-10T12:00:00.000Z');
    expect(snapshotIdForSlot(PREFIX, slotStart(now, 6))).toBe('asana-backend-snap-202603101200');
    expect(slotStart(now, 1).toISOString()).toBe('2026-03-10T13:00:00.000Z');
    const plan = planCopierRun({ now, clusterStatus: 'available', sources: [], copies: [] }, policy);
    expect(plan.create).toEqual({ id: 'asana-backend-snap-202603101200', tags: { [TAGS.managedBy]: APP } });
    // Taken already in this slot (any status): nothing to create.
    const taken = snap('asana-backend-snap-202603101200', 'creating', 60_000, now);
    expect(planCopierRun({ now, clusterStatus: 'available', sources: [taken], copies: [] }, policy).create).toBeNull();
  });

  test('no snapshot while the cluster is not available or the previous one is still being created', () => {
    const busy = planCopierRun({ now, clusterStatus: 'backing-up', sources: [], copies: [] }, policy);
    expect(busy.create).toBeNull();
    expect(busy.notes.join()).toMatch(/backing-up/);
    const previous = snap('asana-backend-snap-202603100600', 'creating', 7 * HOUR, now);
    expect(planCopierRun({ now, clusterStatus: 'available', sources: [previous], copies: [] }, policy).create).toBeNull();
  });

  test('copies finished snapshots without a copy, newest first, never more than 5 in flight', () => {
    const sources = Array.from({ length: 8 }, (_, i) => snap(`${PREFIX}-s${i}`, 'available', (i + 1) * HOUR, now));
    const running = sources.slice(5).map((s) => copyOf(s, 'copying'));
    const plan = planCopierRun({ now, clusterStatus: 'available', sources, copies: running }, policy);
    expect(plan.inFlight).toBe(3);
    expect(plan.copy.map((c) => c.targetId)).toEqual([`${PREFIX}-s0`, `${PREFIX}-s1`]);
    expect(plan.notes.join()).toMatch(/3 snapshot\(s\) wait for a copy slot \(3 of 5 in flight\)/);
    expect(plan.copy[0]!.tags).toEqual({ [TAGS.managedBy]: APP, [TAGS.source]: sources[0]!.arn, [TAGS.sourceCreated]: sources[0]!.createdAt!.toISOString() });
    const full = planCopierRun({ now, clusterStatus: 'available', sources, copies: sources.slice(0, 5).map((s) => copyOf(s, 'copying')) }, policy);
    expect(full.copy).toEqual([]);
  });

  test('never copies twice, skips snapshots still being created and those of other owners', () => {
    const done = snap(`${PREFIX}-a`, 'available', HOUR, now);
    const creating = snap(`${PREFIX}-b`, 'creating', 0, now);
    const foreign = snap('manual-by-hand', 'available', HOUR, now, {}, false);
    const plan = planCopierRun({ now, clusterStatus: 'available', sources: [done, creating, foreign], copies: [copyOf(done, 'available')] }, policy);
    expect(plan.copy).toEqual([]);
  });

  test('prunes past retention on both sides, keeping the newest finished one and anything still being copied', () => {
    const old = [10, 9, 8].map((days) => snap(`${PREFIX}-old${days}`, 'available', days * DAY, now));
    const recent = snap(`${PREFIX}-recent`, 'available', HOUR, now);
    const foreignOld = snap('manual-by-hand', 'available', 30 * DAY, now, {}, false);
    const copies = [copyOf(old[0]!, 'available'), copyOf(old[1]!, 'copying'), copyOf(recent, 'available'), { ...copyOf(old[2]!, 'failed') }];
    const plan = planCopierRun({ now, clusterStatus: 'available', sources: [...old, recent, foreignOld], copies: [...copies, { ...foreignOld, arn: 'x' }] }, policy);
    expect(plan.deleteSources.map((s) => s.id).sort()).toEqual([`${PREFIX}-old10`, `${PREFIX}-old8`]); // old9 is still being copied
    expect(plan.deleteCopies.map((s) => `${s.id}:${s.status}`).sort()).toEqual([`${PREFIX}-old10:available`, `${PREFIX}-old8:failed`]);

    // Only old finished snapshots: the newest of each side stays whatever its age.
    const lonely = snap(`${PREFIX}-lonely`, 'available', 20 * DAY, now);
    const kept = planCopierRun({ now, clusterStatus: 'available', sources: [lonely], copies: [copyOf(lonely, 'available')] }, policy);
    expect(kept.deleteSources).toEqual([]);
    expect(kept.deleteCopies).toEqual([]);
  });

  test('age of the newest DR copy, or for how long there has been none', () => {
    const a = snap(`${PREFIX}-a`, 'available', 5 * HOUR, now);
    const b = snap(`${PREFIX}-b`, 'available', 2 * HOUR, now);
    expect(newestCopyAgeSeconds(now, [a, b], [copyOf(a, 'available'), copyOf(b, 'copying')])).toBe(5 * 3600);
    expect(newestCopyAgeSeconds(now, [a, b], [])).toBe(5 * 3600);
    expect(newestCopyAgeSeconds(now, [], [])).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// The function against RDS in two regions
// ---------------------------------------------------------------------------------------

/** A region's manual cluster snapshots, as RDS would keep them. */
class FakeRds {
  readonly snapshots = new Map<string, DBClusterSnapshot>();
  clusterStatus = 'available';
  /** Fail the next Copy with this error (tests of partial failure). */
  failNextCopy: Error | undefined;

  constructor(
    readonly region: string,
    readonly now: () => Date,
  ) {}

  arn(id: string) {
    return `arn:aws:rds:${this.region}:${ACCOUNT}:cluster-snapshot:${id}`;
  }

  put(id: string, status: string, created: Date, tags: Record<string, string>, cluster = CLUSTER) {
    this.snapshots.set(id, {
      DBClusterSnapshotIdentifier: id,
      DBClusterSnapshotArn: this.arn(id),
      DBClusterIdentifier: cluster,
      SnapshotType: 'manual',
      Status: status,
      SnapshotCreateTime: created,
      TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    });
  }

  /** RDS finishes whatever is being created or copied. */
  finishAll() {
    for (const s of this.snapshots.values()) if (s.Status === 'creating' || s.Status === 'copying') s.Status = 'available';
  }

  ids(status?: string) {
    return [...this.snapshots.values()].filter((s) => !status || s.Status === status).map((s) => s.DBClusterSnapshotIdentifier!).sort();
  }

  answer(stub: RdsStub, source?: FakeRds) {
    stub.on(DescribeDBClustersCommand).callsFake(() => ({ DBClusters: [{ DBClusterIdentifier: CLUSTER, Status: this.clusterStatus }] }));
    // Two per page, to exercise pagination.
    stub.on(DescribeDBClusterSnapshotsCommand).callsFake((input: DescribeDBClusterSnapshotsCommandInput) => {
      const all = [...this.snapshots.values()].filter(
        (s) => (!input.DBClusterIdentifier || s.DBClusterIdentifier === input.DBClusterIdentifier) && (!input.SnapshotType || s.SnapshotType === input.SnapshotType),
      );
      const start = Number(input.Marker ?? 0);
      const page = all.slice(start, start + 2);
      return { DBClusterSnapshots: structuredClone(page), ...(start + 2 < all.length ? { Marker: String(start + 2) } : {}) };
    });
    stub.on(CreateDBClusterSnapshotCommand).callsFake((input: CreateDBClusterSnapshotCommandInput) => {
      const id = input.DBClusterSnapshotIdentifier!;
      if (this.snapshots.has(id)) throw new DBClusterSnapshotAlreadyExistsFault({ message: `${id} exists`, $metadata: {} });
      this.put(id, 'creating', this.now(), Object.fromEntries((input.Tags ?? []).map((t) => [t.Key!, t.Value!])), input.DBClusterIdentifier);
      return { DBClusterSnapshot: this.snapshots.get(id) };
    });
    stub.on(CopyDBClusterSnapshotCommand).callsFake((input: CopyDBClusterSnapshotCommandInput) => {
      if (this.failNextCopy) {
        const error = this.failNextCopy;
        this.failNextCopy = undefined;
        throw error;
      }
      const id = input.TargetDBClusterSnapshotIdentifier!;
      if (this.snapshots.has(id)) throw new DBClusterSnapshotAlreadyExistsFault({ message: `${id} exists`, $metadata: {} });
      const from = [...(source?.snapshots.values() ?? [])].find((s) => s.DBClusterSnapshotArn === input.SourceDBClusterSnapshotIdentifier);
      if (!from || from.Status !== 'available') throw new DBClusterSnapshotNotFoundFault({ message: 'no such source', $metadata: {} });
      this.put(id, 'copying', from.SnapshotCreateTime!, Object.fromEntries((input.Tags ?? []).map((t) => [t.Key!, t.Value!])));
      return { DBClusterSnapshot: this.snapshots.get(id) };
    });
    stub.on(DeleteDBClusterSnapshotCommand).callsFake((input: { DBClusterSnapshotIdentifier?: string }) => {
      const id = input.DBClusterSnapshotIdentifier!;
      if (!this.snapshots.delete(id)) throw new DBClusterSnapshotNotFoundFault({ message: `${id} not found`, $metadata: {} });
      return {};
    });
  }
}

describe('the copier against RDS in both regions', () => {
  let clock: Date;
  let primary: FakeRds;
  let dr: FakeRds;
  let primaryStub: RdsStub;
  let drStub: RdsStub;
  let metrics: PutMetricDataCommandInput[];
  let run: () => ReturnType<typeof copier.runSnapshotCopier>;
  const stubs: { restore(): void }[] = [];
  afterEach(() => stubs.splice(0).forEach((s) => s.restore()));

  const config: CopierConfig = { clusterId: CLUSTER, drKmsKeyArn: DR_KEY, metricNamespace: `${APP}/Backups`, policy };

  function setUp(start = '2026-03-10T00:05:00Z') {
    clock = new Date(start);
    const now = () => clock;
    primary = new FakeRds(PRIMARY, now);
    dr = new FakeRds(DR, now);
    const primaryClient = new RDSClient({ region: PRIMARY });
    const drClient = new RDSClient({ region: DR });
    const cloudwatch = new CloudWatchClient({ region: PRIMARY });
    primaryStub = mockClient(primaryClient);
    drStub = mockClient(drClient);
    const cw = mockClient(cloudwatch);
    stubs.push(primaryStub, drStub, cw);
    primary.answer(primaryStub);
    dr.answer(drStub, primary);
    metrics = [];
    cw.on(PutMetricDataCommand).callsFake((input: PutMetricDataCommandInput) => {
      metrics.push(input);
      return {};
    });
    run = () => copier.runSnapshotCopier({ primary: primaryClient, dr: drClient, cloudwatch, now, config });
  }
  const advance = (ms: number) => (clock = new Date(clock.getTime() + ms));
  const lastAge = () => metrics.at(-1)!.MetricData![0]!.Value;

  test('takes, copies and finishes a snapshot; repeated runs change nothing', async () => {
    setUp();
    const first = await run();
    expect(first.created).toBe('asana-backend-snap-202603100000');
    expect(primaryStub.commandCalls(CreateDBClusterSnapshotCommand)[0]!.args[0].input).toEqual({
      DBClusterIdentifier: CLUSTER,
      DBClusterSnapshotIdentifier: 'asana-backend-snap-202603100000',
      Tags: [{ Key: TAGS.managedBy, Value: APP }],
    });
    expect(first.copied).toEqual([]); // still being created

    // Again in the same slot while it is being created: nothing new.
    advance(10 * 60_000);
    expect(await run()).toMatchObject({ created: null, copied: [] });
    expect(primaryStub.commandCalls(CreateDBClusterSnapshotCommand)).toHaveLength(1);

    primary.finishAll();
    advance(15 * 60_000);
    const copying = await run();
    expect(copying.copied).toEqual(['asana-backend-snap-202603100000']);
    const copy = drStub.commandCalls(CopyDBClusterSnapshotCommand)[0]!.args[0].input;
    expect(copy).toEqual({
      SourceDBClusterSnapshotIdentifier: primary.arn('asana-backend-snap-202603100000'),
      TargetDBClusterSnapshotIdentifier: 'asana-backend-snap-202603100000',
      KmsKeyId: DR_KEY,
      CopyTags: false,
      Tags: [
        { Key: TAGS.managedBy, Value: APP },
        { Key: TAGS.source, Value: primary.arn('asana-backend-snap-202603100000') },
        { Key: TAGS.sourceCreated, Value: '2026-03-10T00:05:00.000Z' },
      ],
    });
    // The copy runs in the DR region (the DR client), never in the primary one.
    expect(primaryStub.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(0);

    // Idempotent: the copy in flight is not started again.
    advance(15 * 60_000);
    expect(await run()).toMatchObject({ created: null, copied: [], inFlight: 1 });
    expect(drStub.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(1);

    dr.finishAll();
    advance(15 * 60_000);
    await run();
    expect(lastAge()).toBe(55 * 60); // the copy holds data taken at 00:05, it is 01:00
    expect(metrics.at(-1)).toEqual({
      Namespace: `${APP}/Backups`,
      MetricData: [{ MetricName: copier.METRIC_NAME, Dimensions: [{ Name: 'Cluster', Value: CLUSTER }], Unit: 'Seconds', Value: 3300, Timestamp: clock }],
    });
    expect(dr.ids('available')).toEqual(['asana-backend-snap-202603100000']);
  });

  test('ten days of runs: one snapshot per slot, both regions pruned past retention, copies never staler than twice the interval', async () => {
    setUp();
    let maxInFlight = 0;
    // Every 15 minutes for 10 days; copies finish only every 6 hours (slow region).
    for (let tick = 0; tick < 10 * 24 * 4; tick++) {
      await run();
      if (tick % 4 === 1) primary.finishAll();
      if (tick % 24 === 23) dr.finishAll();
      maxInFlight = Math.max(maxInFlight, dr.ids('copying').length);
      advance(15 * 60_000);
    }
    expect(maxInFlight).toBeLessThanOrEqual(5);
    // 4 per day, kept 7 days (plus the current slot's, and ones whose copy is running).
    const kept = primary.ids();
    expect(kept.length).toBeGreaterThanOrEqual(28);
    expect(kept.length).toBeLessThanOrEqual(30);
    const oldest = new Date(clock.getTime() - 7 * DAY - 6 * HOUR);
    for (const snapshot of [...primary.snapshots.values(), ...dr.snapshots.values()]) expect(snapshot.SnapshotCreateTime!.getTime()).toBeGreaterThan(oldest.getTime());
    expect(dr.ids().length).toBeGreaterThanOrEqual(27);
    // Never two snapshots in one slot.
    expect(primaryStub.commandCalls(CreateDBClusterSnapshotCommand)).toHaveLength(40);
    // The newest finished copy is never older than twice the interval here.
    expect(Math.max(...metrics.slice(8).map((m) => m.MetricData![0]!.Value!))).toBeLessThan(2 * 6 * 3600);
  });

  test('starts at most 5 cross-region copies in flight, across runs', async () => {
    setUp('2026-03-10T05:00:00Z');
    for (let hour = 1; hour <= 8; hour++) primary.put(`${PREFIX}-h${hour}`, 'available', new Date(clock.getTime() - hour * HOUR), { [TAGS.managedBy]: APP });
    const first = await run();
    expect(first.copied).toEqual([1, 2, 3, 4, 5].map((h) => `${PREFIX}-h${h}`)); // newest first
    expect(first.notes.join()).toMatch(/3 snapshot\(s\) wait/);
    advance(15 * 60_000);
    expect((await run()).copied).toEqual([]);
    expect(dr.ids('copying')).toHaveLength(5);
    // Two copies finish: two more start, never a sixth.
    dr.snapshots.get(`${PREFIX}-h1`)!.Status = 'available';
    dr.snapshots.get(`${PREFIX}-h2`)!.Status = 'available';
    advance(15 * 60_000);
    expect((await run()).copied).toEqual([`${PREFIX}-h6`, `${PREFIX}-h7`]);
    expect(dr.ids('copying')).toHaveLength(5);
    expect(drStub.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(7);
  });

  test('never touches snapshots it did not make, in either region', async () => {
    setUp();
    primary.put('manual-before-upgrade', 'available', new Date('2025-01-01T00:00:00Z'), {});
    dr.put('someone-elses-copy', 'available', new Date('2025-01-01T00:00:00Z'), { [TAGS.managedBy]: 'another-app' });
    primary.finishAll();
    await run();
    expect(primary.ids()).toContain('manual-before-upgrade');
    expect(dr.ids()).toContain('someone-elses-copy');
    expect(drStub.commandCalls(CopyDBClusterSnapshotCommand).map((c) => c.args[0].input.TargetDBClusterSnapshotIdentifier)).not.toContain('manual-before-upgrade');
    expect(primaryStub.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
    expect(drStub.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('treats "already exists" and "not found" as done (an overlapping run got there first)', async () => {
    setUp();
    // Another run created this slot's snapshot between our listing and our create.
    primaryStub.on(CreateDBClusterSnapshotCommand).rejects(new DBClusterSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    const report = await run();
    expect(report.created).toBe('asana-backend-snap-202603100000');
    expect(metrics).toHaveLength(1);
  });

  test('one failed copy does not stop the others; the metric is still published and the run fails', async () => {
    setUp();
    for (const hour of [1, 2, 3]) primary.put(`${PREFIX}-h${hour}`, 'available', new Date(clock.getTime() - hour * HOUR), { [TAGS.managedBy]: APP });
    dr.failNextCopy = new KMSKeyNotAccessibleFault({ message: 'The DR key is disabled', $metadata: {} });
    await expect(run()).rejects.toThrow(/1 step\(s\) failed: KMSKeyNotAccessibleFault/);
    expect(dr.ids('copying')).toEqual([`${PREFIX}-h2`, `${PREFIX}-h3`]);
    expect(metrics).toHaveLength(1);
    expect(lastAge()).toBe(3 * 3600);
  });

  test('takes no snapshot while the cluster is not available, but still copies and reports', async () => {
    setUp();
    primary.clusterStatus = 'modifying';
    primary.put(`${PREFIX}-earlier`, 'available', new Date(clock.getTime() - HOUR), { [TAGS.managedBy]: APP });
    const report = await run();
    expect(report.created).toBeNull();
    expect(report.notes.join()).toMatch(/modifying/);
    expect(report.copied).toEqual([`${PREFIX}-earlier`]);
  });
});

describe('the deployed handler', () => {
  const stubs: { restore(): void }[] = [];
  afterEach(() => stubs.splice(0).forEach((s) => s.restore()));

  test('uses module-scope clients pinned to each region, configured from the environment', async () => {
    const now = () => new Date();
    const primary = new FakeRds(PRIMARY, now);
    const dr = new FakeRds(DR, now);
    primary.put(`${PREFIX}-earlier`, 'available', new Date(Date.now() - HOUR), { [TAGS.managedBy]: APP });
    // Each region's answers come from its own stub (made first: mocking an instance
    // restores an existing class mock)...
    const primaryStub = mockClient(new RDSClient({ region: PRIMARY }));
    const drStub = mockClient(new RDSClient({ region: DR }));
    primary.answer(primaryStub);
    dr.answer(drStub, primary);
    // ...and every RDSClient, including the handler's, is answered by the region of the client that called.
    const rds = mockClient(RDSClient);
    const cw = mockClient(CloudWatchClient);
    stubs.push(primaryStub, drStub, rds, cw);
    cw.on(PutMetricDataCommand).resolves({});
    const seen = new Set<string>();
    const commands = [DescribeDBClustersCommand, DescribeDBClusterSnapshotsCommand, CreateDBClusterSnapshotCommand, CopyDBClusterSnapshotCommand, DeleteDBClusterSnapshotCommand];
    for (const command of commands as (typeof DescribeDBClustersCommand)[]) {
      rds.on(command).callsFake(async (input: DescribeDBClustersCommandInput, getClient: () => RDSClient) => {
        const region = await getClient().config.region();
        seen.add(`${region}:${command.name}`);
        // Answered by that region's stub (the sinon stub behind its client).
        return (region === DR ? drStub : primaryStub).send(new command(input) as never);
      });
    }
    const report = await copier.handler();
    expect(report.copied).toEqual([`${PREFIX}-earlier`]);
    expect(report.created).toMatch(new RegExp(`^${PREFIX}-\\d{12}$`));
    expect(seen).toEqual(
      new Set([
        `${PRIMARY}:DescribeDBClustersCommand`,
        `${PRIMARY}:DescribeDBClusterSnapshotsCommand`,
        `${DR}:DescribeDBClusterSnapshotsCommand`,
        `${PRIMARY}:CreateDBClusterSnapshotCommand`,
        `${DR}:CopyDBClusterSnapshotCommand`,
      ]),
    );
    expect(cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input.Namespace).toBe(`${APP}/Backups`);
  });

  test('the SDK signs the cross-region copy for the source region (what SourceRegion does)', async () => {
    let body = '';
    const dr = new RDSClient({
      region: DR,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      requestHandler: {
        handle: async (request: { body?: string }) => {
          body = decodeURIComponent(String(request.body));
          throw new Error('captured');
        },
      },
    });
    await expect(
      dr.send(
        new CopyDBClusterSnapshotCommand({
          SourceDBClusterSnapshotIdentifier: `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster-snapshot:${PREFIX}-x`,
          TargetDBClusterSnapshotIdentifier: `${PREFIX}-x`,
          KmsKeyId: DR_KEY,
        }),
      ),
    ).rejects.toThrow('captured');
    expect(body).toContain(`PreSignedUrl=https://rds.${PRIMARY}.amazonaws.com/`);
    expect(body).toContain(`DestinationRegion=${DR}`);
    expect(body).toContain(`KmsKeyId=${DR_KEY}`);
  });
});
