/**
 * What every deployed function shares: AWS clients created once per container, env read
 * through getters that fail fast, and the ports wired to AWS implementations.
 */
import { RDSData } from '@aws-sdk/client-rds-data';
import { S3Client } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
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
  get maxBodyBytes() {
    return intEnv('MAX_BODY_BYTES', 1024 * 1024);
  },
};

// Clients live for the container's lifetime (connection reuse across invocations).
const rdsData = new RDSData({});
const s3 = new S3Client({});
const sqs = new SQSClient({});
const ses = new SESv2Client({});

/** The ports on AWS: Aurora through the Data API, S3, SQS, SES v2. */
export function awsDeps(): AppDeps {
  return {
    database: dataApiDatabase({ client: rdsData, resourceArn: env.dbClusterArn, secretArn: env.dbSecretArn, database: env.dbName }),
    clock: systemClock,
    ids: cryptoIds,
    blobs: new S3Blobs({ client: s3, bucket: env.exportBucket }),
    queue: new SqsQueue({ client: sqs, urls: { exports: env.exportQueueUrl, mail: env.mailQueueUrl } }),
    mailer: new SesMailer({ client: ses, from: env.mailFrom, ...(env.sesConfigurationSet ? { configurationSetName: env.sesConfigurationSet } : {}) }),
    config: { maxBodyBytes: env.maxBodyBytes, ...(env.publicBaseUrl ? { publicBaseUrl: env.publicBaseUrl } : {}) },
  };
}
