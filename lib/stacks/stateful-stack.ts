/**
 * Primary region, everything that holds data: the network, Aurora PostgreSQL
 * Serverless v2 (writer and reader in different zones, Data API on), the export
 * bucket and its access-log bucket, the export and mail queues with dead-letter
 * queues, and SES (identity and configuration set). Termination protected.
 */
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  ADHOC_EXPORTS_PREFIX,
  DATABASE,
  DLQ_RETENTION_DAYS,
  EXPORTS_PREFIX,
  MAX_RECEIVE_COUNT,
  VISIBILITY_TIMEOUT_FACTOR,
  WORKER_TIMEOUT_SECONDS,
  deadLetterWorkerTimeout,
  names,
  type QueueName,
} from '../config.js';
import type { DatabaseBinding, MailBinding } from '../constructs/app-function.js';
import { IsolatedNetwork } from '../constructs/isolated-network.js';
import { acknowledge } from '../constructs/nag.js';
import { BaseStack, type BaseStackProps } from './base-stack.js';

/** The Aurora PostgreSQL release; Data API and Serverless v2 support it. Bump deliberately. */
export const ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9;

export interface AppQueue {
  queue: sqs.Queue;
  deadLetterQueue: sqs.Queue;
}

export class StatefulStack extends BaseStack {
  /** Encrypts the cluster, its secret, the export bucket and the queues. */
  readonly key: kms.Key;
  readonly network: IsolatedNetwork;
  readonly cluster: rds.DatabaseCluster;
  readonly database: DatabaseBinding;
  readonly postgresLogs: logs.LogGroup;
  readonly exportBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly queues: Record<QueueName, AppQueue>;
  readonly configurationSet: ses.ConfigurationSet;
  readonly identity: ses.EmailIdentity;
  readonly mail: MailBinding;
  /** The application master secret (HMAC and field-encryption keys are derived from it). */
  readonly appSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: BaseStackProps) {
    super(scope, id, { terminationProtection: true, description: 'Data: Aurora PostgreSQL, export bucket, queues, SES', ...props });
    const config = this.config;
    const n = names(config);
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.key = new kms.Key(this, 'DataKey', {
      alias: `alias/${config.appName}-data`,
      description: 'Encrypts the database, its master secret, exports and queue messages',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.network = new IsolatedNetwork(this, 'Network', {
      availabilityZones: this.availabilityZones,
      logRetention,
      purpose: 'Aurora cluster',
    });

    // --- Aurora PostgreSQL Serverless v2 ---------------------------------------------
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: ENGINE_VERSION });
    const parameterGroup = new rds.ParameterGroup(this, 'ClusterParameters', {
      engine,
      description: 'TLS required for every connection',
      parameters: { 'rds.force_ssl': '1' },
    });
    // Created here (not by RDS) so it has a retention; RDS writes into it by its name.
    this.postgresLogs = new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/cluster/${n.clusterIdentifier}/postgresql`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const [writerZone, readerZone] = this.availabilityZones;
    this.cluster = new rds.DatabaseCluster(this, 'Database', {
      engine,
      clusterIdentifier: n.clusterIdentifier,
      defaultDatabaseName: DATABASE.name,
      // RDS generates, stores (encrypted with the data key) and rotates the master password.
      manageMasterUserPassword: true,
      credentials: rds.Credentials.fromUsername(DATABASE.masterUsername, { encryptionKey: this.key }),
      writer: rds.ClusterInstance.serverlessV2('Writer', { availabilityZone: writerZone!, autoMinorVersionUpgrade: true }),
      readers: [rds.ClusterInstance.serverlessV2('Reader', { availabilityZone: readerZone!, scaleWithWriter: true, autoMinorVersionUpgrade: true })],
      serverlessV2MinCapacity: config.dbMinCapacity,
      serverlessV2MaxCapacity: config.dbMaxCapacity,
      vpc: this.network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.network.databaseSecurityGroup],
      storageEncrypted: true,
      storageEncryptionKey: this.key,
      enableDataApi: true,
      iamAuthentication: true,
      deletionProtection: true,
      copyTagsToSnapshot: true,
      backup: { retention: Duration.days(config.backupRetentionDays), preferredWindow: '03:00-04:00' },
      preferredMaintenanceWindow: 'sun:04:30-sun:05:30',
      parameterGroup,
      cloudwatchLogsExports: ['postgresql'],
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    this.cluster.node.addDependency(this.postgresLogs);
    for (const [id, zone, role] of [
      ['Writer', writerZone, 'writer'],
      ['Reader', readerZone, 'reader'],
    ] as const) {
      acknowledge(
        this.cluster.node.findChild(id),
        'CloudFormation-Validate::W3010',
        `The ${role} is pinned to ${zone} (configured) so that writer and reader always sit in different zones.`,
      );
    }
    const cfnCluster = this.cluster.node.defaultChild as rds.CfnDBCluster;
    this.database = {
      clusterArn: this.cluster.clusterArn,
      secretArn: cfnCluster.attrMasterUserSecretSecretArn,
      databaseName: DATABASE.name,
      key: this.key,
    };

    // --- Export bucket -----------------------------------------------------------------
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // the log delivery service cannot write to SSE-KMS
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.exportBucket = new s3.Bucket(this, 'ExportBucket', {
      bucketName: n.exportBucket(this.account, this.region),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'export-bucket/',
      lifecycleRules: [
        // Only generated exports expire (with their emailed links): attachments live in the
        // same bucket under attachments/ (ATTACHMENTS_PREFIX).
        { id: 'expire-exports', prefix: EXPORTS_PREFIX, expiration: Duration.days(config.exportLinkDays) },
        { id: 'expire-adhoc-exports', prefix: ADHOC_EXPORTS_PREFIX, expiration: Duration.days(1) },
        // Long exports and large attachment uploads keep a multipart upload open across invocations.
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(config.exportLinkDays) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // --- Queues ------------------------------------------------------------------------
    const queue = (name: QueueName, label: string): AppQueue => {
      // A dead-letter queue with a consumer (a function that fails the jobs) is sized for it
      // like a queue; the others keep SQS's default and only alarm.
      const deadLetterTimeout = deadLetterWorkerTimeout(name);
      const deadLetterQueue = new sqs.Queue(this, `${label}DeadLetterQueue`, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: this.key,
        enforceSSL: true,
        retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
        ...(deadLetterTimeout ? { visibilityTimeout: Duration.seconds(deadLetterTimeout * VISIBILITY_TIMEOUT_FACTOR) } : {}),
      });
      const main = new sqs.Queue(this, `${label}Queue`, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: this.key,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(WORKER_TIMEOUT_SECONDS[name] * VISIBILITY_TIMEOUT_FACTOR),
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      });
      return { queue: main, deadLetterQueue };
    };
    this.queues = { exports: queue('exports', 'Export'), mail: queue('mail', 'Mail') };

    // --- SES -----------------------------------------------------------------------------
    this.configurationSet = new ses.ConfigurationSet(this, 'MailConfiguration', {
      reputationMetrics: true,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
      sendingEnabled: true,
    });
    this.identity = new ses.EmailIdentity(this, 'SenderIdentity', {
      identity: config.sesDomain ? ses.Identity.domain(config.sesDomain) : ses.Identity.email(config.senderEmail),
      configurationSet: this.configurationSet,
    });
    this.mail = {
      from: config.senderEmail,
      configurationSetName: this.configurationSet.configurationSetName,
      identityArn: this.identity.emailIdentityArn,
      configurationSetArn: this.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: this.configurationSet.configurationSetName }),
    };
    if (config.sesDomain) {
      this.identity.dkimRecords.forEach((record, i) => {
        new CfnOutput(this, `DkimRecord${i + 1}`, { description: `CNAME to publish for ${config.sesDomain} (DKIM)`, value: `${record.name} CNAME ${record.value}` });
      });
    }

    // --- Application secret ------------------------------------------------------------------
    this.appSecret = new secretsmanager.Secret(this, 'AppSecret', {
      description: `${config.appName}: master secret; the login-history HMAC key and the field-encryption key are derived from it`,
      encryptionKey: this.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.appSecret,
      'AwsSolutions-SMG4',
      'Keys derived from this secret encrypt stored SSO client secrets and key login HMACs; a rotation Lambda would make that data unreadable, so rotation is a re-encryption migration.',
    );

    new CfnOutput(this, 'ClusterArn', { value: this.database.clusterArn, description: 'DB_CLUSTER_ARN' });
    new CfnOutput(this, 'SecretArn', { value: this.database.secretArn, description: 'DB_SECRET_ARN (RDS-managed master secret)' });
    new CfnOutput(this, 'ExportBucketName', { value: this.exportBucket.bucketName });
  }
}
