/**
 * What the deployed functions find in their environment, with dummy values (loading a
 * bundle must not call AWS): test/infra/bundling.test.ts loads every bundle with it, and
 * the cold-start benchmark (bench/cold-start.ts) times their loading with it.
 */
export const DEPLOYED_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:x',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x',
  DB_NAME: 'app',
  EXPORT_BUCKET: 'exports',
  EXPORT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/exports',
  MAIL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/mail',
  MAIL_FROM: 'no-reply@example.com',
  APP_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app',
  PUBLIC_BASE_URL: 'https://tasks.example.com',
  DEFAULT_PLAN: 'free',
  EXPORT_LINK_DAYS: '7',
  MAX_BODY_BYTES: '1048576',
  APP_NAME: 'asana-backend',
  SOURCE_CLUSTER_ID: 'asana-backend-db',
  DR_REGION: 'us-west-2',
  SNAPSHOT_PREFIX: 'asana-backend-snap',
  DR_KMS_KEY_ARN: 'arn:aws:kms:us-west-2:123456789012:alias/asana-backend-dr-snapshots',
  METRIC_NAMESPACE: 'asana-backend/Backups',
  AWS_ACCESS_KEY_ID: 'none',
  AWS_SECRET_ACCESS_KEY: 'none',
  NODE_OPTIONS: '--enable-source-maps',
};
