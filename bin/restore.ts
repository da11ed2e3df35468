#!/usr/bin/env node
/**
 * Restore the database in the DR region from the snapshot copier's copies.
 *
 *   npm run restore -- --region <dr-region> [--snapshot <id>|latest] [--cluster <new-id>] [--dry-run] [--drill]
 *
 * Finds the newest completed copy (or the named one), restores it into the subnet group
 * and security group the DR stack prepared, with the DR key and the TLS-only parameter
 * group, lets RDS manage (and rotate) a new master secret in the DR region, creates a
 * writer and a reader in different zones, enables the Data API, and prints what to point
 * the app at. --drill restores into a temporary cluster, counts the rows of every table,
 * reports the restore time and deletes what it created. See docs/runbooks/restore.md.
 *
 * Only the RDS and RDS Data APIs are used; clients and the clock are injected (tests).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSubnetGroupsCommand,
  EnableHttpEndpointCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  paginateDescribeDBClusterSnapshots,
  type DBCluster,
} from '@aws-sdk/client-rds';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { isAvailable, isOwn, takenAt, type SnapshotInfo } from '../lambdas/domain/snapshots.js';
import { DATABASE, RESTORE_SECURITY_GROUP_TAG, loadConfig, names, type AppConfig } from '../lib/config.js';

export interface RestoreOptions {
  region: string;
  /** 'latest' or a snapshot identifier in the region. */
  snapshot: string;
  /** Identifier of the new cluster (default: <app>-restored-<time> or <app>-drill-<time>). */
  cluster?: string;
  dryRun: boolean;
  drill: boolean;
  timeoutMinutes: number;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface RestoreDeps {
  rds: RDSClient;
  rdsData: RDSDataClient;
  clock: Clock;
  /** One line of progress. */
  out: (line: string) => void;
  config: Pick<AppConfig, 'appName' | 'drRegion' | 'availabilityZones' | 'dbMinCapacity' | 'dbMaxCapacity' | 'backupRetentionDays'>;
  /** Between status polls. */
  pollMs?: number;
}

export interface RestoreResult {
  snapshotId: string;
  clusterId: string;
  clusterArn?: string;
  secretArn?: string;
  /** Until the Data API answered. */
  restoreSeconds?: number;
  rowCounts?: Record<string, number>;
  deleted?: boolean;
}

export class UsageError extends Error {}
/** --help: print the usage and stop. */
class HelpRequested extends Error {}
export class RestoreError extends Error {}

export const USAGE = `Usage: npm run restore -- --region <dr-region> [--snapshot <id>|latest] [--cluster <new-id>] [--dry-run] [--drill] [--timeout-minutes <n>]

  --region           region to restore in (the DR region)
  --snapshot         a snapshot copy identifier, or latest (default): the newest completed copy
  --cluster          identifier of the new cluster (default: <app>-restored-<utc time>)
  --dry-run          show what would be restored and where, create nothing
  --drill            restore into a temporary cluster, verify row counts, report the time, delete it
  --timeout-minutes  give up waiting after this long (default 120)`;

export function parseArgs(argv: string[]): RestoreOptions {
  const options: Partial<RestoreOptions> & { snapshot: string; dryRun: boolean; drill: boolean; timeoutMinutes: number } = {
    snapshot: 'latest',
    dryRun: false,
    drill: false,
    timeoutMinutes: 120,
  };
  const args = [...argv];
  while (args.length) {
    const arg = args.shift()!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args.shift();
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--region':
        options.region = value();
        break;
      case '--snapshot':
        options.snapshot = value();
        break;
      case '--cluster':
        options.cluster = value();
        break;
      case '--dry-run':
        options.dryRun = true;
        break;
      case '--drill':
        options.drill = true;
        break;
      case '--help':
      case '-h':
        throw new HelpRequested();
      case '--timeout-minutes': {
        const minutes = Number(value());
        if (!Number.isInteger(minutes) || minutes < 1) throw new UsageError('--timeout-minutes must be a positive integer');
        options.timeoutMinutes = minutes;
        break;
      }
      default:
        throw new UsageError(`Unknown argument ${arg}`);
    }
  }
  if (!options.region) throw new UsageError('--region is required');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(options.region)) throw new UsageError(`--region ${options.region} is not a region name`);
  if (options.cluster !== undefined && !/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$/.test(options.cluster)) {
    throw new UsageError('--cluster must be 1 to 63 lowercase letters, digits or single hyphens, starting with a letter');
  }
  return options as RestoreOptions;
}

const pad = (n: number) => String(n).padStart(2, '0');
const duration = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
};
const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace(/[-T:]/g, '');
const errorName = (error: unknown) => (error instanceof Error ? error.name : '');

export async function restore(options: RestoreOptions, deps: RestoreDeps): Promise<RestoreResult> {
  const { rds, rdsData, clock, config } = deps;
  const pollMs = deps.pollMs ?? 15_000;
  const n = names(config);
  const started = clock.now();
  const deadline = started + options.timeoutMinutes * 60_000;
  const log = (line: string) => deps.out(`[${duration(clock.now() - started)}] ${line}`);

  /** Polls until `check` says done, printing every change of status; fails at the deadline. */
  async function waitFor<T>(what: string, check: () => Promise<{ done: boolean; status: string; value?: T }>): Promise<T> {
    let last = '';
    for (;;) {
      const { done, status, value } = await check();
      if (status !== last) log(`${what}: ${status}`);
      last = status;
      if (done) return value as T;
      if (clock.now() + pollMs > deadline) {
        throw new RestoreError(`Timed out after ${options.timeoutMinutes} min waiting for ${what} (last status: ${status})`);
      }
      await clock.sleep(pollMs);
    }
  }

  const describeCluster = async (id: string): Promise<DBCluster | undefined> => {
    try {
      return (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
    } catch (error) {
      if (errorName(error) === 'DBClusterNotFoundFault') return undefined;
      throw error;
    }
  };

  log(`Restore of ${config.appName} in ${options.region}${options.drill ? ' (drill)' : ''}${options.dryRun ? ' (dry run)' : ''}`);
  if (options.region !== config.drRegion) log(`note: ${options.region} is not the configured DR region (${config.drRegion})`);

  // 1. The snapshot copy.
  const snapshot = await findSnapshot(rds, options.snapshot, config.appName, options.region);
  const taken = takenAt(snapshot.info);
  log(`snapshot ${snapshot.info.id} (data from ${taken?.toISOString() ?? 'unknown time'}${taken ? `, ${duration(clock.now() - taken.getTime())} ago` : ''}, engine ${snapshot.engineVersion ?? 'unknown'})`);

  // 2. The network the DR stack prepared.
  let subnetGroupArn: string | undefined;
  try {
    const groups = await rds.send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: n.restoreSubnetGroup }));
    subnetGroupArn = groups.DBSubnetGroups?.[0]?.DBSubnetGroupArn;
  } catch (error) {
    if (errorName(error) !== 'DBSubnetGroupNotFoundFault') throw error;
  }
  if (!subnetGroupArn) throw new RestoreError(`DB subnet group ${n.restoreSubnetGroup} not found in ${options.region}: deploy the DR stack (${n.dr}) first`);
  const tags = await rds.send(new ListTagsForResourceCommand({ ResourceName: subnetGroupArn }));
  const securityGroup = tags.TagList?.find((t) => t.Key === RESTORE_SECURITY_GROUP_TAG)?.Value;
  if (!securityGroup) throw new RestoreError(`Subnet group ${n.restoreSubnetGroup} has no ${RESTORE_SECURITY_GROUP_TAG} tag: redeploy the DR stack (${n.dr})`);

  const clusterId = options.cluster ?? `${config.appName}-${options.drill ? 'drill' : 'restored'}-${stamp(clock.now())}`;
  if (await describeCluster(clusterId)) throw new RestoreError(`A cluster named ${clusterId} already exists in ${options.region}; choose another with --cluster`);
  const zones = config.availabilityZones[options.region] ?? [`${options.region}a`, `${options.region}b`];
  const [writerZone, readerZone] = zones;
  log(`target: cluster ${clusterId}, subnet group ${n.restoreSubnetGroup}, security group ${securityGroup}, key ${n.drKeyAlias}, writer in ${writerZone}, reader in ${readerZone}`);

  const result: RestoreResult = { snapshotId: snapshot.info.id, clusterId };
  if (options.dryRun) {
    log('dry run: nothing created');
    return result;
  }

  const writer = `${clusterId}-writer`;
  const reader = `${clusterId}-reader`;
  const created = { cluster: false, instances: [] as string[] };
  let failed = false;
  try {
    // 3. The cluster.
    const restored = await rds.send(
      new RestoreDBClusterFromSnapshotCommand({
        DBClusterIdentifier: clusterId,
        SnapshotIdentifier: snapshot.info.arn,
        Engine: 'aurora-postgresql',
        ...(snapshot.engineVersion ? { EngineVersion: snapshot.engineVersion } : {}),
        DBSubnetGroupName: n.restoreSubnetGroup,
        VpcSecurityGroupIds: [securityGroup],
        KmsKeyId: n.drKeyAlias,
        DBClusterParameterGroupName: n.restoreParameterGroup,
        ServerlessV2ScalingConfiguration: { MinCapacity: config.dbMinCapacity, MaxCapacity: config.dbMaxCapacity },
        EnableCloudwatchLogsExports: ['postgresql'],
        EnableIAMDatabaseAuthentication: true,
        CopyTagsToSnapshot: true,
        // The restored cluster may become the primary: it gets the configured backups.
        BackupRetentionPeriod: options.drill ? 1 : config.backupRetentionDays,
        DeletionProtection: !options.drill,
        Tags: [
          { Key: 'restored-from', Value: snapshot.info.arn },
          { Key: 'restored-by', Value: 'bin/restore.ts' },
          ...(options.drill ? [{ Key: 'restore-drill', Value: 'true' }] : []),
        ],
      }),
    );
    created.cluster = true;
    result.clusterArn = restored.DBCluster?.DBClusterArn;
    log(`restoring cluster ${clusterId}`);
    const clusterStatus = (wantSecret: boolean) => async () => {
      const cluster = await describeCluster(clusterId);
      const status = cluster?.Status ?? 'missing';
      const secret = cluster?.MasterUserSecret;
      const ready = status === 'available' && (!wantSecret || secret?.SecretStatus === 'active');
      return { done: ready, status: wantSecret ? `${status}, secret ${secret?.SecretStatus ?? 'none yet'}` : status, value: cluster };
    };
    const available = await waitFor<DBCluster>(`cluster ${clusterId}`, clusterStatus(false));
    result.clusterArn ??= available.DBClusterArn;

    // 4. A master secret in this region, managed and rotated by RDS, under the DR key.
    await rds.send(
      new ModifyDBClusterCommand({ DBClusterIdentifier: clusterId, ManageMasterUserPassword: true, MasterUserSecretKmsKeyId: n.drKeyAlias, ApplyImmediately: true }),
    );
    const withSecret = await waitFor<DBCluster>(`cluster ${clusterId} master secret`, clusterStatus(true));
    result.secretArn = withSecret.MasterUserSecret?.SecretArn;

    // 5. Writer and reader, in different zones.
    for (const [id, zone, tier] of [
      [writer, writerZone, 0],
      [reader, readerZone, 1],
    ] as const) {
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: id,
          DBClusterIdentifier: clusterId,
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.serverless',
          ...(zone ? { AvailabilityZone: zone } : {}),
          PromotionTier: tier,
          PubliclyAccessible: false,
          AutoMinorVersionUpgrade: true,
        }),
      );
      created.instances.push(id);
      log(`creating instance ${id}${zone ? ` in ${zone}` : ''}`);
    }
    for (const id of created.instances) {
      await waitFor(`instance ${id}`, async () => {
        const status = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0]?.DBInstanceStatus ?? 'missing';
        return { done: status === 'available', status };
      });
    }

    // 6. The Data API.
    if (!result.clusterArn || !result.secretArn) throw new RestoreError('RDS did not report the cluster ARN or its secret ARN');
    const http = await rds.send(new EnableHttpEndpointCommand({ ResourceArn: result.clusterArn }));
    if (http.HttpEndpointEnabled === false) throw new RestoreError(`RDS did not enable the Data API on ${clusterId}`);
    const clusterArn = result.clusterArn;
    const secretArn = result.secretArn;
    const sql = (text: string) => rdsData.send(new ExecuteStatementCommand({ resourceArn: clusterArn, secretArn, database: DATABASE.name, sql: text }));
    await waitFor('Data API', async () => {
      try {
        await sql('select 1');
        return { done: true, status: 'answering' };
      } catch (error) {
        return { done: false, status: `not yet (${errorName(error) || 'error'})` };
      }
    });
    result.restoreSeconds = Math.round((clock.now() - started) / 1000);
    log(`restored in ${duration(clock.now() - started)}`);

    if (options.drill) {
      // 7. Verification: row counts of every table.
      const tables = await sql("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name");
      result.rowCounts = {};
      for (const record of tables.records ?? []) {
        const table = record[0]?.stringValue;
        if (!table) continue;
        const count = await sql(`select count(*) from "${table.replace(/"/g, '""')}"`);
        result.rowCounts[table] = Number(count.records?.[0]?.[0]?.longValue ?? 0);
        log(`  ${table}: ${result.rowCounts[table]} rows`);
      }
      if (!Object.keys(result.rowCounts).length) throw new RestoreError('The restored database has no tables: the snapshot holds no application data');
    } else {
      deps.out('');
      deps.out(`Restored ${clusterId} from ${snapshot.info.id} in ${duration(clock.now() - started)}. Point the app at:`);
      deps.out(`  DB_CLUSTER_ARN=${clusterArn}`);
      deps.out(`  DB_SECRET_ARN=${secretArn}`);
      deps.out(`  DB_NAME=${DATABASE.name}`);
      deps.out('(docs/runbooks/restore.md: next steps)');
    }
    return result;
  } catch (error) {
    failed = true;
    if (!options.drill && created.cluster) {
      log(`failed; left in place for inspection: cluster ${clusterId}${created.instances.length ? `, instances ${created.instances.join(', ')}` : ''} (docs/runbooks/restore.md: cleaning up)`);
    }
    throw error;
  } finally {
    if (options.drill && created.cluster) {
      try {
        await removeDrill();
        result.deleted = true;
        log(`drill done: restore took ${result.restoreSeconds !== undefined ? duration(result.restoreSeconds * 1000) : 'n/a (did not finish)'}, total ${duration(clock.now() - started)}`);
      } catch (cleanupError) {
        log(`could not delete the drill cluster ${clusterId}: ${cleanupError instanceof Error ? cleanupError.message : String(cleanupError)}; delete it by hand`);
        // The first failure is the one to report; a cleanup failure alone fails the drill.
        if (!failed) throw cleanupError;
      }
    }
  }

  /** Deletes the drill's instances, then its cluster, and waits until they are gone. */
  async function removeDrill(): Promise<void> {
    // Cleanup gets its own time budget: a timed-out drill must still be removed.
    const cleanupDeadline = clock.now() + 60 * 60_000;
    const gone = async (what: string, probe: () => Promise<string | undefined>) => {
      let last = '';
      for (;;) {
        const status = await probe();
        if (status === undefined) return log(`${what}: deleted`);
        if (status !== last) log(`${what}: ${status}`);
        last = status;
        if (clock.now() > cleanupDeadline) throw new RestoreError(`Timed out deleting ${what}; delete it by hand`);
        await clock.sleep(pollMs);
      }
    };
    for (const id of created.instances) {
      await ignoreMissing(() => rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id })), 'DBInstanceNotFoundFault');
    }
    for (const id of created.instances) {
      await gone(`instance ${id}`, async () => {
        try {
          return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0]?.DBInstanceStatus;
        } catch (error) {
          if (errorName(error) === 'DBInstanceNotFoundFault') return undefined;
          throw error;
        }
      });
    }
    await ignoreMissing(() => rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true })), 'DBClusterNotFoundFault');
    await gone(`cluster ${clusterId}`, async () => (await describeCluster(clusterId))?.Status);
  }
}

async function ignoreMissing(action: () => Promise<unknown>, notFound: string): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (errorName(error) !== notFound) throw error;
  }
}

async function findSnapshot(rds: RDSClient, wanted: string, appName: string, region: string): Promise<{ info: SnapshotInfo; engineVersion?: string }> {
  const toInfo = (s: import('@aws-sdk/client-rds').DBClusterSnapshot) => ({
    info: {
      id: s.DBClusterSnapshotIdentifier ?? '',
      arn: s.DBClusterSnapshotArn ?? '',
      status: s.Status ?? 'unknown',
      ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime } : {}),
      tags: Object.fromEntries((s.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    },
    ...(s.EngineVersion ? { engineVersion: s.EngineVersion } : {}),
  });
  if (wanted !== 'latest') {
    try {
      const found = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: wanted }))).DBClusterSnapshots?.[0];
      if (!found) throw new RestoreError(`Snapshot ${wanted} not found in ${region}`);
      const snapshot = toInfo(found);
      if (!isAvailable(snapshot.info)) throw new RestoreError(`Snapshot ${wanted} is ${snapshot.info.status}, not available`);
      return snapshot;
    } catch (error) {
      if (errorName(error) === 'DBClusterSnapshotNotFoundFault') throw new RestoreError(`Snapshot ${wanted} not found in ${region}`);
      throw error;
    }
  }
  const candidates: { info: SnapshotInfo; engineVersion?: string }[] = [];
  for await (const page of paginateDescribeDBClusterSnapshots({ client: rds }, { SnapshotType: 'manual' })) {
    for (const s of page.DBClusterSnapshots ?? []) {
      const snapshot = toInfo(s);
      if (isOwn(snapshot.info, appName) && isAvailable(snapshot.info)) candidates.push(snapshot);
    }
  }
  const newest = candidates.sort((a, b) => (takenAt(b.info)?.getTime() ?? 0) - (takenAt(a.info)?.getTime() ?? 0))[0];
  if (!newest) throw new RestoreError(`No completed snapshot copy of ${appName} in ${region}: is the snapshot copier running (its alarm, its log group)?`);
  return newest;
}

/** Reads cdk.json's context (the same configuration the CDK app uses). */
export function configFromCdkJson(path = new URL('../cdk.json', import.meta.url)): AppConfig {
  const context = (JSON.parse(readFileSync(path, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  return loadConfig((key) => context[key]);
}

/** Runs the CLI; returns the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: string[], make?: (options: RestoreOptions) => RestoreDeps): Promise<number> {
  let options: RestoreOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(USAGE);
      return 0;
    }
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const deps =
    make?.(options) ??
    ({
      rds: new RDSClient({ region: options.region }),
      rdsData: new RDSDataClient({ region: options.region }),
      clock: { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) },
      out: (line) => console.log(line),
      config: configFromCdkJson(),
    } satisfies RestoreDeps);
  try {
    await restore(options, deps);
    return 0;
  } catch (error) {
    deps.out(`restore failed: ${error instanceof Error ? `${error.name === 'Error' || error instanceof RestoreError ? '' : `${error.name}: `}${error.message}` : String(error)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
