/**
 * Every function of the stateless stack, in one table. Adding a function is one entry
 * here: its handler file, size, how it is invoked and what it uses. The stateless stack
 * reads this table and wires the rest: environment and least-privilege grants (through
 * the AppFunction bind helpers), the API integration, the Lambda authorizer, the queue
 * event source with partial batch failures, schedules, the deploy trigger, error alarms.
 *
 * The snapshot copier is not here: it belongs to the backup stack and has its own grants.
 */
import { WORKER_TIMEOUT_SECONDS, type QueueName } from './config.js';

export type Invocation =
  /** Behind API Gateway: the proxy integration of every route of the route table. */
  | { kind: 'api' }
  /** The REQUEST authorizer of every route whose auth is not 'none'. */
  | { kind: 'authorizer' }
  /** During each deployment that changes it, through a CDK Trigger, after the database exists. */
  | { kind: 'deploy' }
  /** An SQS event source on the queue, reporting partial batch failures. */
  | { kind: 'queue'; queue: QueueName; batchSize: number; maxBatchingWindowSeconds?: number }
  /** An EventBridge schedule expression, e.g. 'cron(30 3 * * ? *)'. */
  | { kind: 'schedule'; expression: string };

export interface FunctionSpec {
  /** Handler file relative to the repository root. */
  entry: string;
  description: string;
  memoryMb: number;
  timeoutSeconds: number;
  invoke: Invocation;
  /** What it uses: each sets its environment variable(s) and grants exactly that access. */
  uses: {
    /** Aurora through the Data API (DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME). */
    database?: boolean;
    /** The export bucket under exports/ (EXPORT_BUCKET). */
    exportBucket?: 'read' | 'read-write';
    /** Queues it sends to (EXPORT_QUEUE_URL, MAIL_QUEUE_URL). */
    sendsTo?: QueueName[];
    /** MAIL_FROM and SES_CONFIGURATION_SET; 'send' also grants ses:SendEmail from that address. */
    mail?: 'address' | 'send';
    /** The application master secret (APP_SECRET_ARN): HMAC and field-encryption keys. */
    appSecret?: boolean;
    /** PUBLIC_BASE_URL (if configured) and MAX_BODY_BYTES. */
    http?: boolean;
  };
  /**
   * The handler wires its ports with awsDeps() (lambdas/handlers/shared.ts), which reads
   * every address at cold start: all variables are set, grants still follow `uses`.
   */
  awsDeps?: boolean;
  /** Ship lambdas/db/migrations next to the bundle. */
  bundleMigrations?: boolean;
}

export const FUNCTIONS = {
  api: {
    entry: 'lambdas/handlers/api.ts',
    description: 'Asana-compatible REST API (every route of the route table)',
    memoryMb: 1024,
    timeoutSeconds: 29, // API Gateway's integration timeout
    invoke: { kind: 'api' },
    awsDeps: true,
    // Signed export downloads, export jobs and outbox mail, sessions and login alerts.
    uses: { database: true, exportBucket: 'read-write', sendsTo: ['exports', 'mail'], appSecret: true, http: true },
  },
  authorizer: {
    entry: 'lambdas/handlers/authorizer.ts',
    description: 'REQUEST authorizer: the API token check at the edge (bearer token, or the session cookie on GET)',
    memoryMb: 512,
    timeoutSeconds: 10,
    invoke: { kind: 'authorizer' },
    awsDeps: true,
    uses: { database: true, appSecret: true },
  },
  migrate: {
    entry: 'lambdas/handlers/migrate.ts',
    description: 'Applies the SQL migrations over the Data API on deploy',
    memoryMb: 512,
    timeoutSeconds: 300,
    invoke: { kind: 'deploy' },
    uses: { database: true },
    bundleMigrations: true,
  },
  mailWorker: {
    entry: 'lambdas/handlers/mail-worker.ts',
    description: 'Delivers outbox mail from the mail queue through SES',
    memoryMb: 512,
    timeoutSeconds: WORKER_TIMEOUT_SECONDS.mail,
    invoke: { kind: 'queue', queue: 'mail', batchSize: 10 },
    awsDeps: true,
    uses: { database: true, mail: 'send' },
  },
  outboxRelay: {
    entry: 'lambdas/handlers/outbox-relay.ts',
    description: 'Re-enqueues due outbox mail (every minute)',
    memoryMb: 256,
    timeoutSeconds: 60,
    invoke: { kind: 'schedule', expression: 'rate(1 minute)' },
    awsDeps: true,
    uses: { database: true, sendsTo: ['mail'] },
  },
  purge: {
    entry: 'lambdas/handlers/purge.ts',
    description: 'Removes data past its retention period (daily)',
    memoryMb: 512,
    timeoutSeconds: 300,
    invoke: { kind: 'schedule', expression: 'cron(30 3 * * ? *)' },
    awsDeps: true,
    uses: { database: true },
  },
} satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof FUNCTIONS;
