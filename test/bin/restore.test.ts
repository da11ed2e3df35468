/**
 * The restore CLI end to end against a mocked RDS and RDS Data API in the DR region
 * (aws-sdk-client-mock), with a fake clock: the whole call sequence, progress output,
 * drills, failures and timeouts.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import {
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceNotFoundFault,
  DBSubnetGroupNotFoundFault,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSubnetGroupsCommand,
  EnableHttpEndpointCommand,
  InsufficientDBClusterCapacityFault,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  type DBClusterSnapshot,
  type DescribeDBClusterSnapshotsCommandInput,
} from '@aws-sdk/client-rds';
import { ExecuteStatementCommand, RDSDataClient, type ExecuteStatementCommandInput } from '@aws-sdk/client-rds-data';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { main, parseArgs, restore, USAGE, type RestoreDeps, type RestoreOptions } from '../../bin/restore.js';
import { TAGS } from '../../lambdas/domain/snapshots.js';
import { DATABASE, RESTORE_SECURITY_GROUP_TAG, loadConfig, names } from '../../lib/config.js';

const config = loadConfig((key) => ({ appName: 'asana-backend', primaryRegion: 'us-east-1', drRegion: 'us-west-2', senderEmail: 'a@b.io', alarmEmail: 'c@d.io' })[key]);
const n = names(config);
const REGION = config.drRegion;
const ACCOUNT = '123456789012';
const START = Date.parse('2026-05-04T10:00:00Z');
const MUTATING = [RestoreDBClusterFromSnapshotCommand, ModifyDBClusterCommand, CreateDBInstanceCommand, EnableHttpEndpointCommand, DeleteDBInstanceCommand, DeleteDBClusterCommand];

const snapshotArn = (id: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:cluster-snapshot:${id}`;
const copy = (id: string, takenIso: string, status = 'available', owner = config.appName): DBClusterSnapshot => ({
  DBClusterSnapshotIdentifier: id,
  DBClusterSnapshotArn: snapshotArn(id),
  Status: status,
  SnapshotType: 'manual',
  EngineVersion: '16.9',
  SnapshotCreateTime: new Date(takenIso),
  TagList: [
    { Key: TAGS.managedBy, Value: owner },
    { Key: TAGS.sourceCreated, Value: takenIso },
  ],
});

/** RDS in the DR region: resources become available after a few polls. */
class FakeRds {
  snapshots: DBClusterSnapshot[] = [
    copy(`${n.snapshotPrefix}-202605040000`, '2026-05-04T00:00:00.000Z', 'copying'),
    copy(`${n.snapshotPrefix}-202605031800`, '2026-05-03T18:00:00.000Z'),
    copy(`${n.snapshotPrefix}-202605031200`, '2026-05-03T12:00:00.000Z'),
    copy('hand-made', '2026-05-04T09:00:00.000Z', 'available', 'someone-else'),
  ];
  clusters = new Map<string, { polls: number; secretPolls?: number; deleting?: number; arn: string }>();
  instances = new Map<string, { polls: number; deleting?: number }>();
  /** Polls before a new resource is available (Infinity: never). */
  clusterPolls = 3;
  instancePolls = 2;
  secretPolls = 1;
  subnetGroup = true;

  constructor(readonly stub: AwsClientStub<RDSClient>) {
    stub.on(DescribeDBClusterSnapshotsCommand).callsFake((input: DescribeDBClusterSnapshotsCommandInput) => {
      if (input.DBClusterSnapshotIdentifier) {
        const found = this.snapshots.find((s) => s.DBClusterSnapshotIdentifier === input.DBClusterSnapshotIdentifier);
        if (!found) throw new DBClusterSnapshotNotFoundFault({ message: 'not found', $metadata: {} });
        return { DBClusterSnapshots: [found] };
      }
      // Two pages.
      return input.Marker ? { DBClusterSnapshots: this.snapshots.slice(2) } : { DBClusterSnapshots: this.snapshots.slice(0, 2), Marker: 'page-2' };
    });
    stub.on(DescribeDBSubnetGroupsCommand).callsFake(() => {
      if (!this.subnetGroup) throw new DBSubnetGroupNotFoundFault({ message: 'no subnet group', $metadata: {} });
      return { DBSubnetGroups: [{ DBSubnetGroupName: n.restoreSubnetGroup, DBSubnetGroupArn: `arn:aws:rds:${REGION}:${ACCOUNT}:subgrp:${n.restoreSubnetGroup}` }] };
    });
    stub.on(ListTagsForResourceCommand).resolves({ TagList: [{ Key: RESTORE_SECURITY_GROUP_TAG, Value: 'sg-0abc' }] });
    stub.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier?: string }) => {
      const id = input.DBClusterIdentifier!;
      const c = this.clusters.get(id);
      if (!c) throw new DBClusterNotFoundFault({ message: `${id} not found`, $metadata: {} });
      if (c.deleting !== undefined) {
        if (c.deleting-- <= 0) {
          this.clusters.delete(id);
          throw new DBClusterNotFoundFault({ message: `${id} not found`, $metadata: {} });
        }
        return { DBClusters: [{ DBClusterIdentifier: id, DBClusterArn: c.arn, Status: 'deleting' }] };
      }
      c.polls += 1;
      const available = c.polls > this.clusterPolls;
      const secret = c.secretPolls === undefined ? undefined : c.secretPolls++ >= this.secretPolls ? 'active' : 'creating';
      return {
        DBClusters: [
          {
            DBClusterIdentifier: id,
            DBClusterArn: c.arn,
            Status: secret === 'creating' ? 'modifying' : available ? 'available' : 'creating',
            ...(secret ? { MasterUserSecret: { SecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!cluster-1234`, SecretStatus: secret } } : {}),
          },
        ],
      };
    });
    stub.on(RestoreDBClusterFromSnapshotCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      const arn = `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:${input.DBClusterIdentifier}`;
      this.clusters.set(input.DBClusterIdentifier, { polls: 0, arn });
      return { DBCluster: { DBClusterIdentifier: input.DBClusterIdentifier, DBClusterArn: arn, Status: 'creating' } };
    });
    stub.on(ModifyDBClusterCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      this.clusters.get(input.DBClusterIdentifier)!.secretPolls = 0;
      return {};
    });
    stub.on(CreateDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      this.instances.set(input.DBInstanceIdentifier, { polls: 0 });
      return {};
    });
    stub.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} });
      if (i.deleting !== undefined) {
        if (i.deleting-- <= 0) {
          this.instances.delete(input.DBInstanceIdentifier);
          throw new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} });
        }
        return { DBInstances: [{ DBInstanceStatus: 'deleting' }] };
      }
      i.polls += 1;
      return { DBInstances: [{ DBInstanceStatus: i.polls > this.instancePolls ? 'available' : 'creating' }] };
    });
    stub.on(EnableHttpEndpointCommand).callsFake((input: { ResourceArn: string }) => ({ ResourceArn: input.ResourceArn, HttpEndpointEnabled: true }));
    stub.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      const i = this.instances.get(input.DBInstanceIdentifier);
      if (!i) throw new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} });
      i.deleting = 2;
      return {};
    });
    stub.on(DeleteDBClusterCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      const c = this.clusters.get(input.DBClusterIdentifier);
      if (!c) throw new DBClusterNotFoundFault({ message: 'not found', $metadata: {} });
      c.deleting = 2;
      return {};
    });
  }

  /** Names of the commands sent, in order. */
  sequence() {
    return this.stub.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, ''));
  }
}

const stubs: { restore(): void }[] = [];
afterEach(() => stubs.splice(0).forEach((s) => s.restore()));

function setUp() {
  const rdsClient = new RDSClient({ region: REGION });
  const dataClient = new RDSDataClient({ region: REGION });
  const rds = mockClient(rdsClient);
  const data = mockClient(dataClient);
  stubs.push(rds, data);
  const fake = new FakeRds(rds);
  let dataApiFailures = 1; // the first query after enabling fails, as it may on AWS
  const counts: Record<string, number> = { organizations: 3, users: 42, schema_migrations: 5 };
  data.on(ExecuteStatementCommand).callsFake((input: ExecuteStatementCommandInput) => {
    if (dataApiFailures-- > 0) throw Object.assign(new Error('HttpEndpoint is not enabled yet'), { name: 'BadRequestException' });
    const sql = input.sql ?? '';
    if (sql === 'select 1') return { records: [[{ longValue: 1 }]] };
    if (sql.includes('information_schema.tables')) return { records: Object.keys(counts).sort().map((t) => [{ stringValue: t }]) };
    const table = /from "([^"]+)"/.exec(sql)![1]!;
    return { records: [[{ longValue: counts[table] }]] };
  });
  let now = START;
  const lines: string[] = [];
  const deps: RestoreDeps = {
    rds: rdsClient,
    rdsData: dataClient,
    clock: { now: () => now, sleep: async (ms) => void (now += ms) },
    out: (line) => lines.push(line),
    config,
  };
  const options = (extra: Partial<RestoreOptions> = {}): RestoreOptions => ({ region: REGION, snapshot: 'latest', dryRun: false, drill: false, timeoutMinutes: 120, ...extra });
  return { rds, data, fake, deps, lines, options, elapsed: () => now - START };
}

describe('restore', () => {
  test('restores the newest completed copy with the DR network, key and parameter group, and prints what to point the app at', async () => {
    const { rds, data, fake, deps, lines, options } = setUp();
    const result = await restore(options(), deps);
    const clusterId = `${config.appName}-restored-202605041000`;
    const newest = `${n.snapshotPrefix}-202605031800`; // the 00:00 copy is still copying; hand-made is not ours
    expect(result).toMatchObject({ snapshotId: newest, clusterId, clusterArn: `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:${clusterId}` });
    expect(result.secretArn).toMatch(/^arn:aws:secretsmanager:us-west-2:.*:secret:rds!cluster-/);

    expect(fake.sequence()).toEqual([
      'DescribeDBClusterSnapshots',
      'DescribeDBClusterSnapshots',
      'DescribeDBSubnetGroups',
      'ListTagsForResource',
      'DescribeDBClusters', // the new name is free
      'RestoreDBClusterFromSnapshot',
      'DescribeDBClusters',
      'DescribeDBClusters',
      'DescribeDBClusters',
      'DescribeDBClusters',
      'ModifyDBCluster',
      'DescribeDBClusters',
      'DescribeDBClusters',
      'CreateDBInstance',
      'CreateDBInstance',
      ...Array(6).fill('DescribeDBInstances'), // writer, then reader: 3 polls each
      'EnableHttpEndpoint',
    ]);
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]!.args[0].input).toEqual({
      DBClusterIdentifier: clusterId,
      SnapshotIdentifier: snapshotArn(newest),
      Engine: 'aurora-postgresql',
      EngineVersion: '16.9',
      DBSubnetGroupName: n.restoreSubnetGroup,
      VpcSecurityGroupIds: ['sg-0abc'],
      KmsKeyId: n.drKeyAlias,
      DBClusterParameterGroupName: n.restoreParameterGroup,
      ServerlessV2ScalingConfiguration: { MinCapacity: config.dbMinCapacity, MaxCapacity: config.dbMaxCapacity },
      EnableCloudwatchLogsExports: ['postgresql'],
      EnableIAMDatabaseAuthentication: true,
      CopyTagsToSnapshot: true,
      BackupRetentionPeriod: config.backupRetentionDays,
      DeletionProtection: true,
      Tags: [
        { Key: 'restored-from', Value: snapshotArn(newest) },
        { Key: 'restored-by', Value: 'bin/restore.ts' },
      ],
    });
    expect(rds.commandCalls(ModifyDBClusterCommand)[0]!.args[0].input).toEqual({
      DBClusterIdentifier: clusterId,
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: n.drKeyAlias,
      ApplyImmediately: true,
    });
    const instances = rds.commandCalls(CreateDBInstanceCommand).map((c) => c.args[0].input);
    expect(instances.map((i) => [i.DBInstanceIdentifier, i.DBInstanceClass, i.AvailabilityZone, i.PromotionTier])).toEqual([
      [`${clusterId}-writer`, 'db.serverless', config.availabilityZones[REGION]![0], 0],
      [`${clusterId}-reader`, 'db.serverless', config.availabilityZones[REGION]![1], 1],
    ]);
    expect(instances[0]!.AvailabilityZone).not.toBe(instances[1]!.AvailabilityZone);
    expect(rds.commandCalls(EnableHttpEndpointCommand)[0]!.args[0].input).toEqual({ ResourceArn: result.clusterArn });
    // The Data API answered (after one retry) with the new secret.
    expect(data.commandCalls(ExecuteStatementCommand).at(-1)!.args[0].input).toMatchObject({ resourceArn: result.clusterArn, secretArn: result.secretArn, database: DATABASE.name });

    // Visible progress with elapsed time, then the values for the app.
    expect(lines).toContain('[0:00:00] cluster asana-backend-restored-202605041000: creating');
    expect(lines).toContain('[0:00:45] cluster asana-backend-restored-202605041000: available');
    expect(lines.some((l) => /instance asana-backend-restored-202605041000-reader: available/.test(l))).toBe(true);
    expect(lines).toContain(`  DB_CLUSTER_ARN=${result.clusterArn}`);
    expect(lines).toContain(`  DB_SECRET_ARN=${result.secretArn}`);
    expect(lines).toContain(`  DB_NAME=${DATABASE.name}`);
    expect(lines.find((l) => l.startsWith('Restored '))).toMatch(/in 0:0\d:\d\d\. Point the app at:/);
  });

  test('restores a named snapshot into a named cluster', async () => {
    const { rds, deps, options } = setUp();
    const result = await restore(options({ snapshot: `${n.snapshotPrefix}-202605031200`, cluster: 'my-restore' }), deps);
    expect(result).toMatchObject({ snapshotId: `${n.snapshotPrefix}-202605031200`, clusterId: 'my-restore' });
    expect(rds.commandCalls(DescribeDBClusterSnapshotsCommand)[0]!.args[0].input).toEqual({ DBClusterSnapshotIdentifier: `${n.snapshotPrefix}-202605031200` });
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]!.args[0].input.DBClusterIdentifier).toBe('my-restore');
  });

  test('--dry-run shows the plan and creates nothing', async () => {
    const { rds, deps, lines, options } = setUp();
    const result = await restore(options({ dryRun: true }), deps);
    expect(result).toEqual({ snapshotId: `${n.snapshotPrefix}-202605031800`, clusterId: `${config.appName}-restored-202605041000` });
    for (const command of MUTATING) expect(rds.commandCalls(command as typeof DeleteDBClusterCommand)).toHaveLength(0);
    expect(lines.join('\n')).toMatch(/target: cluster asana-backend-restored-202605041000, subnet group asana-backend-restore, security group sg-0abc, key alias\/asana-backend-dr-snapshots/);
    expect(lines.at(-1)).toMatch(/dry run: nothing created/);
  });

  test('--drill restores a temporary cluster, counts rows, reports the time and deletes what it created', async () => {
    const { rds, deps, lines, options, fake } = setUp();
    const result = await restore(options({ drill: true }), deps);
    const clusterId = `${config.appName}-drill-202605041000`;
    expect(result).toMatchObject({ clusterId, deleted: true, rowCounts: { organizations: 3, schema_migrations: 5, users: 42 } });
    expect(result.restoreSeconds).toBeGreaterThan(0);
    const restored = rds.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]!.args[0].input;
    expect(restored.DeletionProtection).toBe(false);
    expect(restored.BackupRetentionPeriod).toBe(1);
    expect(restored.Tags).toContainEqual({ Key: 'restore-drill', Value: 'true' });
    expect(rds.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input.DBInstanceIdentifier)).toEqual([`${clusterId}-writer`, `${clusterId}-reader`]);
    expect(rds.commandCalls(DeleteDBClusterCommand)[0]!.args[0].input).toEqual({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true });
    // Instances are gone before the cluster is deleted, and the cluster is gone at the end.
    const sequence = fake.sequence();
    expect(sequence.lastIndexOf('DescribeDBInstances')).toBeLessThan(sequence.indexOf('DeleteDBCluster'));
    expect(fake.clusters.size).toBe(0);
    expect(fake.instances.size).toBe(0);
    expect(lines).toContain('[0:02:15]   users: 42 rows');
    expect(lines.at(-1)).toBe('[0:03:45] drill done: restore took 0:02:15, total 0:03:45');
    expect(lines.some((l) => l.includes('DB_CLUSTER_ARN'))).toBe(false);
  });
});

describe('failures and timeouts', () => {
  test('a failed restore call stops there, leaves nothing half-made and says why', async () => {
    const { rds, deps, lines } = setUp();
    rds.on(RestoreDBClusterFromSnapshotCommand).rejects(new InsufficientDBClusterCapacityFault({ message: 'No capacity in us-west-2a', $metadata: {} }));
    expect(await main(['--region', REGION], () => deps)).toBe(1);
    expect(lines.at(-1)).toBe('restore failed: InsufficientDBClusterCapacityFault: No capacity in us-west-2a');
    expect(rds.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
  });

  test('times out waiting for the cluster; a restore is left for inspection, a drill is deleted', async () => {
    const slow = setUp();
    slow.fake.clusterPolls = Infinity;
    expect(await main(['--region', REGION, '--timeout-minutes', '10'], () => slow.deps)).toBe(1);
    expect(slow.lines.at(-1)).toBe('restore failed: Timed out after 10 min waiting for cluster asana-backend-restored-202605041000 (last status: creating)');
    expect(slow.lines.some((l) => /left in place for inspection: cluster asana-backend-restored-202605041000/.test(l))).toBe(true);
    expect(slow.elapsed()).toBeLessThanOrEqual(10 * 60_000);
    expect(slow.rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
    stubs.splice(0).forEach((s) => s.restore());

    const drill = setUp();
    drill.fake.clusterPolls = Infinity;
    expect(await main(['--region', REGION, '--drill', '--timeout-minutes', '10'], () => drill.deps)).toBe(1);
    expect(drill.rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(1);
    expect(drill.fake.clusters.size).toBe(0);
    expect(drill.lines.at(-1)).toMatch(/Timed out after 10 min/);
    expect(drill.lines.some((l) => /drill done: restore took n\/a \(did not finish\)/.test(l))).toBe(true);
  });

  test('times out waiting for the instances; a drill still deletes instances and cluster', async () => {
    const { fake, deps, rds } = setUp();
    fake.instancePolls = Infinity;
    await expect(restore({ region: REGION, snapshot: 'latest', dryRun: false, drill: true, timeoutMinutes: 5 }, deps)).rejects.toThrow(/waiting for instance asana-backend-drill-202605041000-writer/);
    expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(2);
    expect(rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(1);
  });

  test('no completed copy yet', async () => {
    const { fake, deps, lines } = setUp();
    fake.snapshots = fake.snapshots.filter((s) => s.Status !== 'available' || s.TagList![0]!.Value !== config.appName);
    expect(await main(['--region', REGION], () => deps)).toBe(1);
    expect(lines.at(-1)).toBe(`restore failed: No completed snapshot copy of ${config.appName} in ${REGION}: is the snapshot copier running (its alarm, its log group)?`);
  });

  test('a named snapshot that does not exist or is not finished', async () => {
    const missing = setUp();
    expect(await main(['--region', REGION, '--snapshot', 'nope'], () => missing.deps)).toBe(1);
    expect(missing.lines.at(-1)).toBe(`restore failed: Snapshot nope not found in ${REGION}`);
    stubs.splice(0).forEach((s) => s.restore());
    const copying = setUp();
    expect(await main(['--region', REGION, '--snapshot', `${n.snapshotPrefix}-202605040000`], () => copying.deps)).toBe(1);
    expect(copying.lines.at(-1)).toMatch(/is copying, not available/);
  });

  test('the DR network is not deployed', async () => {
    const { fake, deps, lines } = setUp();
    fake.subnetGroup = false;
    expect(await main(['--region', REGION], () => deps)).toBe(1);
    expect(lines.at(-1)).toBe(`restore failed: DB subnet group ${n.restoreSubnetGroup} not found in ${REGION}: deploy the DR stack (${n.dr}) first`);
  });

  test('refuses to reuse the name of an existing cluster', async () => {
    const { fake, deps, lines, rds } = setUp();
    fake.clusters.set('taken', { polls: 10, arn: 'arn:x' });
    expect(await main(['--region', REGION, '--cluster', 'taken'], () => deps)).toBe(1);
    expect(lines.at(-1)).toMatch(/A cluster named taken already exists/);
    expect(rds.commandCalls(RestoreDBClusterFromSnapshotCommand)).toHaveLength(0);
  });
});

describe('arguments', () => {
  test('parses flags in both forms', () => {
    expect(parseArgs(['--region', 'eu-central-1'])).toEqual({ region: 'eu-central-1', snapshot: 'latest', dryRun: false, drill: false, timeoutMinutes: 120 });
    expect(parseArgs(['--region=eu-central-1', '--snapshot=s-1', '--cluster', 'c-1', '--dry-run', '--drill', '--timeout-minutes', '30'])).toEqual({
      region: 'eu-central-1',
      snapshot: 's-1',
      cluster: 'c-1',
      dryRun: true,
      drill: true,
      timeoutMinutes: 30,
    });
  });

  test('usage errors exit 2 with the usage text', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const argv of [[], ['--region'], ['--region', 'Mars'], ['--region', 'us-west-2', '--bogus'], ['--region', 'us-west-2', '--cluster', 'Bad_Name'], ['--region', 'us-west-2', '--timeout-minutes', '0']]) {
        expect(await main(argv, () => setUp().deps)).toBe(2);
      }
      expect(String(error.mock.calls[0]![0])).toContain(USAGE);
    } finally {
      error.mockRestore();
    }
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main(['--help'], () => setUp().deps)).toBe(0);
      expect(log).toHaveBeenCalledWith(USAGE);
    } finally {
      log.mockRestore();
    }
  });
});
