/**
 * What every deployed function shares: AWS clients created once per container, env read
 * through getters that fail fast, and the ports wired to AWS implementations.
 */
import { RDSData } from '@aws-sdk/client-rds-data';
import { S3Client } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecrets } from '../adapters/secrets/aws-secrets.js';
import { DEFAULT_AUTH_CONFIG } from '../domain/auth/config.js';
import { S3Blobs } from '../adapters/blobs/s3-blobs.js';
import { systemClock } from '../adapters/clock.js';
import { cryptoIds } from '../adapters/ids.js';
import { SesMailer } from '../adapters/mail/ses-mailer.js';
import { SqsQueue } from '../adapters/queue/sqs-queue.js';
import { dataApiDatabase } from '../db/database.js';
import type { AppDeps } from '../http/deps.js';
import { intEnv, optionalEnv, requireEnv } from '../shared/env.js';

/** Environment of the deployed functions (set by lib/, validated at cold start). */
export const env = {
  get dbClusterArn() {
    return requireEnv('DB_CLUSTER_ARN');
  },
  get dbSecretArn() {
    return requireEnv('DB_SECRET_ARN');
  },
  get dbName() {
    return optionalEnv('DB_NAME', 'app');
  },
  get exportBucket() {
    return requireEnv('EXPORT_BUCKET');
  },
  get exportQueueUrl() {
    return requireEnv('EXPORT_QUEUE_URL');
  },
  get mailQueueUrl() {
    return requireEnv('MAIL_QUEUE_URL');
  },
  get mailFrom() {
    return requireEnv('MAIL_FROM');
  },
  get sesConfigurationSet() {
    return process.env.SES_CONFIGURATION_SET || undefined;
  },
  get publicBaseUrl() {
    return process.env.PUBLIC_BASE_URL || undefined;
  },
  get appSecretArn() {
    return requireEnv('APP_SECRET_ARN');
  },
  get defaultPlan(): 'free' | 'paid' {
    const plan = optionalEnv('DEFAULT_PLAN', 'free');
    if (plan !== 'free' && plan !== 'paid') throw new Error(`DEFAULT_PLAN must be free or paid, got ${JSON.stringify(plan)}`);
    return plan;
  },
  get exportLinkDays() {
    const days = intEnv('EXPORT_LINK_DAYS', 7);
    if (days < 1) throw new Error('EXPORT_LINK_DAYS must be at least 1');
    return days;
  },
  get maxBodyBytes() {
    return intEnv('MAX_BODY_BYTES', 1024 * 1024);
  },
};

// Clients live for the container's lifetime (connection reuse across invocations).
const rdsData = new RDSData({});
const s3 = new S3Client({});
const sqs = new SQSClient({});
const ses = new SESv2Client({});
const secretsManager = new SecretsManagerClient({});

/** The ports on AWS: Aurora through the Data API, S3, SQS, SES v2. */
export function awsDeps(): AppDeps {
  return {
    database: dataApiDatabase({ client: rdsData, resourceArn: env.dbClusterArn, secretArn: env.dbSecretArn, database: env.dbName }),
    clock: systemClock,
    ids: cryptoIds,
    blobs: new S3Blobs({ client: s3, bucket: env.exportBucket }),
    queue: new SqsQueue({ client: sqs, urls: { exports: env.exportQueueUrl, mail: env.mailQueueUrl } }),
    mailer: new SesMailer({ client: ses, from: env.mailFrom, ...(env.sesConfigurationSet ? { configurationSetName: env.sesConfigurationSet } : {}) }),
    secrets: new AwsSecrets({ client: secretsManager, secretId: env.appSecretArn }),
    config: { maxBodyBytes: env.maxBodyBytes, auth: DEFAULT_AUTH_CONFIG, defaultPlan: env.defaultPlan, exportLinkDays: env.exportLinkDays, ...(env.publicBaseUrl ? { publicBaseUrl: env.publicBaseUrl } : {}) },
  };
}
