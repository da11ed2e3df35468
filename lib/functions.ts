/**
 * Every function of the stateless stack, in one table. Adding a function is one entry
 * here: its handler file, size, how it is invoked and what it uses. The stateless stack
 * reads this table and wires the rest: environment and least-privilege grants (through
 * the AppFunction bind helpers), the API integration, the Lambda authorizer, the queue
 * and dead-letter queue event sources with partial batch failures, schedules, the deploy
 * trigger, error alarms.
 *
 * The snapshot copier is not here: it belongs to the backup stack and has its own grants.
 */
import type { FunctionGroup } from '../lambdas/http/route-groups.js';
import { DEAD_LETTER_WORKER_TIMEOUT_SECONDS, WORKER_TIMEOUT_SECONDS, type BucketPrefix, type QueueName } from './config.js';

/**
 * What a function may do under one prefix of the export bucket:
 * - read: GetObject (and HeadObject), signed downloads;
 * - read-write: also PutObject, DeleteObject and multipart uploads (signed uploads too);
 * - delete: DeleteObject only (no reads, no key use).
 */
export type BucketAccess = 'read' | 'read-write' | 'delete';

export type Invocation =
  /**
   * Behind API Gateway: the proxy integration of the routes of one function group
   * (lambdas/http/route-groups.ts); its handler serves routesFor(group). Exactly one
   * function per group.
   */
  | { kind: 'api'; group: FunctionGroup }
  /** The REQUEST authorizer of every route whose auth is not 'none'. */
  | { kind: 'authorizer' }
  /** During each deployment that changes it, through a CDK Trigger, after the database exists. */
  | { kind: 'deploy' }
  /** An SQS event source on the queue, reporting partial batch failures. */
  | {
      kind: 'queue';
      queue: QueueName;
      batchSize: number;
      maxBatchingWindowSeconds?: number;
      /** At most this many concurrent invocations from the queue (2-1000); the rest wait in the queue. */
      maxConcurrency?: number;
    }
  /**
   * An SQS event source on the queue's dead-letter queue (messages that failed
   * MAX_RECEIVE_COUNT times), reporting partial batch failures. The queue needs an entry
   * in DEAD_LETTER_WORKER_TIMEOUT_SECONDS (it sizes the dead-letter queue's visibility).
   */
  | { kind: 'dead-letter'; queue: QueueName; batchSize: number }
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
    /** The export bucket (EXPORT_BUCKET): access per prefix (exports/, attachments/), nothing elsewhere. */
    exportBucket?: Partial<Record<BucketPrefix, BucketAccess>>;
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
   * every address and setting at cold start (DEFAULT_PLAN, EXPORT_LINK_DAYS,
   * MAX_BODY_BYTES too): all variables are set, grants still follow `uses`.
   */
  awsDeps?: boolean;
  /** Ship lambdas/db/migrations next to the bundle. */
  bundleMigrations?: boolean;
  /**
   * V8 flags the function starts with, in place of the heap sizes the Node.js runtime
   * derives from its memory (lib/runtime/v8-flags.sh, the function's exec wrapper).
   */
  v8Flags?: readonly string[];
}

/**
 * The export worker's V8 heap, pinned. Node sizes the heap by itself from the memory it
 * sees (a quarter of it, doubled on 64-bit: 4 GB on a 24 GB machine), and the Lambda
 * runtime passes its own sizes on Node's command line (about 90% of the function's memory
 * for the old space). With a large limit V8 lets the heap grow to several times what
 * survives a full collection before collecting again, so the export's process would hold
 * mostly garbage. 512 MB of old space keeps it near what the export keeps alive; 32 MB
 * semi-spaces let the short-lived rows of a page die young (against 16 MB: about 9% less
 * CPU for about 30 MB more RSS at 100,000 tasks). The same flags run the export in the benchmark
 * (bench/run.ts), so the figures it prints are the function's. NODE_OPTIONS cannot carry
 * them (the runtime's command line comes after it): the function's exec wrapper does.
 */
export const EXPORT_WORKER_V8_FLAGS = ['--max-old-space-size=512', '--max-semi-space-size=32'] as const;

export const FUNCTIONS = {
  api: {
    entry: 'lambdas/handlers/api.ts',
    description: 'Asana-compatible REST API: every route the auth and exports functions do not serve',
    memoryMb: 1024,
    timeoutSeconds: 29, // API Gateway's integration timeout
    invoke: { kind: 'api', group: 'api' },
    awsDeps: true,
    // Attachments: uploads (direct, signed and multipart), signed downloads, deletion; no
    // exports/ (the exports function has those routes). Mail: organization and team
    // invitations through the outbox (nothing here sends to the exports queue). App
    // secret: the SSO settings' encrypted client secrets.
    uses: { database: true, exportBucket: { attachments: 'read-write' }, sendsTo: ['mail'], appSecret: true, http: true },
  },
  auth: {
    entry: 'lambdas/handlers/auth.ts',
    description: 'Identity routes: sign-up, login, logout, passwords, invitation acceptance, not-me links, SSO (OIDC, SAML), sessions and login history',
    // scrypt (N=2^17, r=8: 128 MiB per hash) is CPU-bound: 1769 MB is one full vCPU.
    memoryMb: 1769,
    timeoutSeconds: 29, // API Gateway's integration timeout
    invoke: { kind: 'api', group: 'auth' },
    awsDeps: true,
    // Sessions and login detection (the HMAC key of the app secret), login alerts, password
    // reset and not-me mail through the outbox; no bucket.
    uses: { database: true, sendsTo: ['mail'], appSecret: true, http: true },
  },
  exports: {
    entry: 'lambdas/handlers/exports.ts',
    description: 'Synchronous exports (project, My tasks, saved searches; JSON and CSV) and the export job routes (request, status, download)',
    memoryMb: 2048,
    timeoutSeconds: 29, // API Gateway's integration timeout
    invoke: { kind: 'api', group: 'exports' },
    awsDeps: true,
    // exports/: large synchronous exports written under exports/adhoc/ and signed; export
    // job files under exports/jobs/ signed for download. Requests for export jobs go to the
    // exports queue. No mail (the worker sends the link) and no app secret (nothing here
    // reads it).
    uses: { database: true, exportBucket: { exports: 'read-write' }, sendsTo: ['exports'], http: true },
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
    description: 'Re-enqueues due outbox mail and restarts stalled export jobs (every minute)',
    memoryMb: 256,
    timeoutSeconds: 60,
    invoke: { kind: 'schedule', expression: 'rate(1 minute)' },
    awsDeps: true,
    uses: { database: true, sendsTo: ['exports', 'mail'] },
  },
  purge: {
    entry: 'lambdas/handlers/purge.ts',
    description: 'Removes data past its retention period, with the attachment blobs of purged tasks and the files of expired exports (daily)',
    memoryMb: 512,
    timeoutSeconds: 300,
    invoke: { kind: 'schedule', expression: 'cron(30 3 * * ? *)' },
    awsDeps: true,
    // Blobs of purged attachments, files of expired and failed exports.
    uses: { database: true, exportBucket: { attachments: 'delete', exports: 'delete' } },
  },
  exportWorker: {
    entry: 'lambdas/handlers/export-worker.ts',
    description: 'Writes team CSV and organization exports to S3 (multipart, checkpointed, continued through the exports queue) and emails the link',
    memoryMb: 1024,
    timeoutSeconds: WORKER_TIMEOUT_SECONDS.exports,
    // Exports are heavy readers of the database: at most 5 run at once, the rest wait in the queue.
    invoke: { kind: 'queue', queue: 'exports', batchSize: 1, maxConcurrency: 5 },
    awsDeps: true,
    // Sends to the exports queue to hand the rest of a long export to a new invocation.
    uses: { database: true, appSecret: true, exportBucket: { exports: 'read-write' }, sendsTo: ['exports', 'mail'] },
    v8Flags: EXPORT_WORKER_V8_FLAGS,
  },
  exportDeadLetter: {
    entry: 'lambdas/handlers/export-dead-letter.ts',
    description: 'Fails the export jobs whose messages reached the exports dead-letter queue and emails their requesters',
    memoryMb: 512,
    timeoutSeconds: DEAD_LETTER_WORKER_TIMEOUT_SECONDS.exports,
    invoke: { kind: 'dead-letter', queue: 'exports', batchSize: 10 },
    awsDeps: true,
    uses: { database: true, appSecret: true, sendsTo: ['mail'] },
  },
} satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof FUNCTIONS;
