/**
 * The snapshot copier function (EventBridge schedule): reads the snapshots in both
 * regions, asks lambdas/domain/snapshots.ts what to do, does it, and publishes the age
 * of the newest DR copy. Every step is idempotent; a failed step does not stop the
 * others, but fails the run (so the error alarm fires) after the metric is published.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CopyDBClusterSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  RDSClient,
  paginateDescribeDBClusterSnapshots,
  type DBClusterSnapshot,
  type DescribeDBClusterSnapshotsCommandInput,
} from '@aws-sdk/client-rds';
import { NEWEST_COPY_AGE_METRIC, planCopierRun, type CopierPlan, type CopierPolicy, type SnapshotInfo } from '../domain/snapshots.js';
import { intEnv, requireEnv } from '../shared/env.js';
import { logger } from '../shared/logger.js';

export const env = {
  get appName() {
    return requireEnv('APP_NAME');
  },
  get clusterId() {
    return requireEnv('SOURCE_CLUSTER_ID');
  },
  get drRegion() {
    return requireEnv('DR_REGION');
  },
  /** Identifier prefix of the copier's snapshots. */
  get snapshotPrefix() {
    return requireEnv('SNAPSHOT_PREFIX');
  },
  /** The DR region's key, by alias ARN. */
  get drKmsKeyArn() {
    return requireEnv('DR_KMS_KEY_ARN');
  },
  get intervalHours() {
    return intEnv('SNAPSHOT_INTERVAL_HOURS', 6);
  },
  get retentionDays() {
    return intEnv('SNAPSHOT_RETENTION_DAYS', 7);
  },
  get maxInFlight() {
    return intEnv('MAX_COPIES_IN_FLIGHT', 5);
  },
  get metricNamespace() {
    return requireEnv('METRIC_NAMESPACE');
  },
};

export const METRIC_NAME = NEWEST_COPY_AGE_METRIC;

export interface CopierConfig {
  clusterId: string;
  drKmsKeyArn: string;
  metricNamespace: string;
  policy: CopierPolicy;
}

export interface CopierDeps {
  /** RDS in the primary region (the cluster's). */
  primary: RDSClient;
  /** RDS in the DR region. */
  dr: RDSClient;
  cloudwatch: CloudWatchClient;
  now: () => Date;
  config: CopierConfig;
}

export interface CopierReport {
  created: string | null;
  copied: string[];
  deletedSources: string[];
  deletedCopies: string[];
  inFlight: number;
  newestCopyAgeSeconds: number;
  notes: string[];
}

export function configFromEnv(): CopierConfig {
  return {
    clusterId: env.clusterId,
    drKmsKeyArn: env.drKmsKeyArn,
    metricNamespace: env.metricNamespace,
    policy: {
      appName: env.appName,
      prefix: env.snapshotPrefix,
      intervalHours: Math.max(1, env.intervalHours),
      retentionDays: Math.max(1, env.retentionDays),
      maxInFlight: env.maxInFlight,
    },
  };
}

const toInfo = (s: DBClusterSnapshot): SnapshotInfo | null =>
  s.DBClusterSnapshotIdentifier && s.DBClusterSnapshotArn
    ? {
        id: s.DBClusterSnapshotIdentifier,
        arn: s.DBClusterSnapshotArn,
        status: s.Status ?? 'unknown',
        ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime } : {}),
        tags: Object.fromEntries((s.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      }
    : null;

async function listSnapshots(client: RDSClient, input: DescribeDBClusterSnapshotsCommandInput): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  for await (const page of paginateDescribeDBClusterSnapshots({ client }, input)) {
    for (const snapshot of page.DBClusterSnapshots ?? []) {
      const info = toInfo(snapshot);
      if (info) out.push(info);
    }
  }
  return out;
}

const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** Errors that mean "already done" for an idempotent step. */
const ALREADY_DONE: Record<string, string[]> = {
  create: ['DBClusterSnapshotAlreadyExistsFault'],
  copy: ['DBClusterSnapshotAlreadyExistsFault'],
  delete: ['DBClusterSnapshotNotFoundFault'],
};

export async function runSnapshotCopier(deps: CopierDeps): Promise<CopierReport> {
  const { primary, dr, config } = deps;
  const now = deps.now();
  const [clusters, sources, copies] = await Promise.all([
    primary.send(new DescribeDBClustersCommand({ DBClusterIdentifier: config.clusterId })),
    listSnapshots(primary, { DBClusterIdentifier: config.clusterId, SnapshotType: 'manual' }),
    listSnapshots(dr, { SnapshotType: 'manual' }),
  ]);
  const clusterStatus = clusters.DBClusters?.[0]?.Status ?? 'missing';
  const plan: CopierPlan = planCopierRun({ now, clusterStatus, sources, copies }, config.policy);

  const failures: Error[] = [];
  const step = async (kind: keyof typeof ALREADY_DONE, what: string, action: () => Promise<unknown>): Promise<boolean> => {
    try {
      await action();
      return true;
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (ALREADY_DONE[kind]!.includes(name)) {
        logger.info(`${kind} ${what}: already done`, { error: name });
        return true;
      }
      logger.error(`${kind} ${what} failed`, { error });
      failures.push(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  };

  const report: CopierReport = {
    created: null,
    copied: [],
    deletedSources: [],
    deletedCopies: [],
    inFlight: plan.inFlight,
    newestCopyAgeSeconds: plan.newestCopyAgeSeconds,
    notes: plan.notes,
  };

  if (plan.create) {
    const { id, tags } = plan.create;
    const ok = await step('create', id, () =>
      primary.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: config.clusterId, DBClusterSnapshotIdentifier: id, Tags: tagList(tags) })),
    );
    if (ok) report.created = id;
  }

  for (const copy of plan.copy) {
    // The SDK signs the pre-signed URL for the source region (taken from the source ARN).
    const ok = await step('copy', copy.source.id, () =>
      dr.send(
        new CopyDBClusterSnapshotCommand({
          SourceDBClusterSnapshotIdentifier: copy.source.arn,
          TargetDBClusterSnapshotIdentifier: copy.targetId,
          KmsKeyId: config.drKmsKeyArn,
          CopyTags: false,
          Tags: tagList(copy.tags),
        }),
      ),
    );
    if (ok) report.copied.push(copy.targetId);
  }

  for (const snapshot of plan.deleteSources) {
    if (await step('delete', `source ${snapshot.id}`, () => primary.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: snapshot.id })))) {
      report.deletedSources.push(snapshot.id);
    }
  }
  for (const snapshot of plan.deleteCopies) {
    if (await step('delete', `copy ${snapshot.id}`, () => dr.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: snapshot.id })))) {
      report.deletedCopies.push(snapshot.id);
    }
  }

  await deps.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: config.metricNamespace,
      MetricData: [
        {
          MetricName: METRIC_NAME,
          Dimensions: [{ Name: 'Cluster', Value: config.clusterId }],
          Unit: 'Seconds',
          Value: plan.newestCopyAgeSeconds,
          Timestamp: now,
        },
      ],
    }),
  );

  logger.info('snapshot copier run', { ...report });
  if (failures.length) throw new AggregateError(failures, `snapshot copier: ${failures.length} step(s) failed: ${failures.map((f) => f.name).join(', ')}`);
  return report;
}

// Clients live for the container's lifetime; the DR client is pinned to the DR region.
const primary = new RDSClient({});
const dr = new RDSClient({ region: env.drRegion });
const cloudwatch = new CloudWatchClient({});

export const handler = (): Promise<CopierReport> => runSnapshotCopier({ primary, dr, cloudwatch, now: () => new Date(), config: configFromEnv() });
