/**
 * Primary region: the snapshot copier. Every SNAPSHOT_COPIER.scheduleMinutes an
 * EventBridge rule runs it: it takes a manual cluster snapshot once per interval,
 * copies finished ones to the DR region under the DR key (at most 5 copies in flight),
 * prunes both regions past retention, and publishes the age of the newest DR copy,
 * which alarms at twice the interval. The DR key is addressed by its alias ARN built
 * from the configuration: no cross-region reference.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { SNAPSHOT_COPIER, names } from '../config.js';
import type { AlarmTopic } from '../constructs/alarm-topic.js';
import { AppFunction } from '../constructs/app-function.js';
import { acknowledge, nagArn } from '../constructs/nag.js';
import { BaseStack, type BaseStackProps } from './base-stack.js';
import type { StatefulStack } from './stateful-stack.js';

export interface BackupStackProps extends BaseStackProps {
  stateful: StatefulStack;
  alarms: AlarmTopic;
}

/** Environment of lambdas/handlers/snapshot-copier.ts. */
export const COPIER_ENV = {
  appName: 'APP_NAME',
  clusterId: 'SOURCE_CLUSTER_ID',
  drRegion: 'DR_REGION',
  snapshotPrefix: 'SNAPSHOT_PREFIX',
  drKmsKeyArn: 'DR_KMS_KEY_ARN',
  intervalHours: 'SNAPSHOT_INTERVAL_HOURS',
  retentionDays: 'SNAPSHOT_RETENTION_DAYS',
  maxInFlight: 'MAX_COPIES_IN_FLIGHT',
  metricNamespace: 'METRIC_NAMESPACE',
} as const;

export class BackupStack extends BaseStack {
  readonly copier: AppFunction;
  readonly schedule: events.Rule;
  readonly newestCopyAge: cloudwatch.Metric;
  readonly newestCopyAlarm: cloudwatch.Alarm;
  /** The DR key as the copier addresses it. */
  readonly drKeyAliasArn: string;

  constructor(scope: Construct, id: string, props: BackupStackProps) {
    super(scope, id, { description: 'Cross-region snapshot copies of the database', ...props });
    const config = this.config;
    const n = names(config);
    const { stateful } = props;
    const partition = Aws.PARTITION;
    const account = Aws.ACCOUNT_ID;
    const snapshotArn = (region: string, name: string) => `arn:${partition}:rds:${region}:${account}:cluster-snapshot:${name}`;
    const ownSnapshots = [config.primaryRegion, config.drRegion].map((region) => snapshotArn(region, `${n.snapshotPrefix}-*`));
    const clusterArn = `arn:${partition}:rds:${config.primaryRegion}:${account}:cluster:${n.clusterIdentifier}`;
    this.drKeyAliasArn = `arn:${partition}:kms:${config.drRegion}:${account}:${n.drKeyAlias}`;

    this.copier = new AppFunction(this, 'SnapshotCopier', {
      entry: 'lambdas/handlers/snapshot-copier.ts',
      serviceName: 'snapshot-copier',
      description: `Copies ${n.clusterIdentifier} snapshots to ${config.drRegion} and prunes them`,
      memoryMb: 256,
      timeout: Duration.seconds(SNAPSHOT_COPIER.timeoutSeconds),
      logRetention: config.logRetentionDays as logs.RetentionDays,
      environment: {
        [COPIER_ENV.appName]: config.appName,
        [COPIER_ENV.clusterId]: n.clusterIdentifier,
        [COPIER_ENV.drRegion]: config.drRegion,
        [COPIER_ENV.snapshotPrefix]: n.snapshotPrefix,
        [COPIER_ENV.drKmsKeyArn]: this.drKeyAliasArn,
        [COPIER_ENV.intervalHours]: String(config.snapshotIntervalHours),
        [COPIER_ENV.retentionDays]: String(config.snapshotRetentionDays),
        [COPIER_ENV.maxInFlight]: String(SNAPSHOT_COPIER.maxCopiesInFlight),
        [COPIER_ENV.metricNamespace]: n.metricNamespace,
      },
    });

    const fn = this.copier;
    fn.allow(['rds:DescribeDBClusters'], [clusterArn]);
    const describeAll = [config.primaryRegion, config.drRegion].map((region) => snapshotArn(region, '*'));
    fn.allow(['rds:DescribeDBClusterSnapshots'], [clusterArn, ...describeAll]);
    fn.allow(['rds:CreateDBClusterSnapshot'], [clusterArn, ownSnapshots[0]!]);
    fn.allow(['rds:CopyDBClusterSnapshot', 'rds:AddTagsToResource', 'rds:DeleteDBClusterSnapshot'], ownSnapshots);
    // Copying an encrypted snapshot: RDS uses grants on the source key and the DR key.
    const grantForRds = { Bool: { 'kms:GrantIsForAWSResource': 'true' } };
    fn.allow(['kms:DescribeKey'], [stateful.key.keyArn]);
    fn.allow(['kms:CreateGrant'], [stateful.key.keyArn], grantForRds);
    const drKeys = `arn:${partition}:kms:${config.drRegion}:${account}:key/*`;
    const viaAlias = { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': n.drKeyAlias } };
    fn.allow(['kms:DescribeKey'], [drKeys], viaAlias);
    fn.allow(['kms:CreateGrant'], [drKeys], { ...viaAlias, ...grantForRds });

    const policy = fn.policy();
    for (const arn of describeAll) {
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Resource::${nagArn(arn)}]`,
        'DescribeDBClusterSnapshots is read-only and RDS authorizes it against every snapshot it lists, so it cannot be narrowed to a prefix.',
      );
    }
    for (const arn of ownSnapshots) {
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Resource::${nagArn(arn)}]`,
        `Snapshot identifiers are generated per interval under the ${n.snapshotPrefix}- prefix; create, copy, tag and delete are limited to that prefix.`,
      );
    }
    acknowledge(
      policy,
      `AwsSolutions-IAM5[Resource::${nagArn(drKeys)}]`,
      `The DR key lives in another region and stack; it is matched by its alias ${n.drKeyAlias} (kms:ResourceAliases), never by any key.`,
    );

    // PutMetricData has no resource-level permissions: its own policy, limited by namespace.
    const metricsPolicy = new iam.Policy(this, 'CopierMetricsPolicy', {
      roles: [fn.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': n.metricNamespace } },
        }),
      ],
    });
    acknowledge(
      metricsPolicy,
      'AwsSolutions-IAM5[Resource::*]',
      `cloudwatch:PutMetricData accepts no resource; the statement is limited to the ${n.metricNamespace} namespace by condition.`,
    );

    this.schedule = new events.Rule(this, 'CopierSchedule', {
      description: 'Runs the snapshot copier',
      schedule: events.Schedule.rate(Duration.minutes(SNAPSHOT_COPIER.scheduleMinutes)),
      targets: [new targets.LambdaFunction(fn.fn, { retryAttempts: 2 })],
    });

    // No datapoint means the copier is not running, which is as bad as an old copy.
    this.newestCopyAge = new cloudwatch.Metric({
      namespace: n.metricNamespace,
      metricName: SNAPSHOT_COPIER.metricName,
      dimensionsMap: { Cluster: n.clusterIdentifier },
      statistic: 'Maximum',
      period: Duration.hours(1),
    });
    const threshold = 2 * config.snapshotIntervalHours * 3600;
    this.newestCopyAlarm = props.alarms.notify(
      this.newestCopyAge.createAlarm(this, 'NewestDrCopyTooOld', {
        alarmDescription: `The newest snapshot copy in ${config.drRegion} is older than ${2 * config.snapshotIntervalHours} h (twice the snapshot interval), or the copier stopped reporting`,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    props.alarms.notify(
      fn.fn.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }).createAlarm(this, 'CopierErrors', {
        alarmDescription: 'The snapshot copier failed (see its log group)',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
