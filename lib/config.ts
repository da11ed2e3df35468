/**
 * Deployment configuration: read from the cdk.json context (override any key with
 * `npx cdk deploy -c key=value`), validated, with the defaults documented in
 * docs/deploy.md. Also the fixed infrastructure constants every stack shares.
 *
 * Pure TypeScript (no aws-cdk-lib), so bin/restore.ts reads the same configuration.
 */

/** Where a value comes from: the CDK context (or any key/value source). */
export type ContextReader = (key: string) => unknown;

export interface AppConfig {
  /** Prefix of every named resource and of the stack names. */
  appName: string;
  /** Target account; absent means "the account of the deploying credentials". */
  account?: string;
  primaryRegion: string;
  drRegion: string;
  /** Availability zones used per region (primary and DR), at least two each. */
  availabilityZones: Record<string, string[]>;
  /** The From address of every email (login alerts, export links). */
  senderEmail: string;
  /** Verify this domain in SES (DKIM) instead of the single sender address. */
  sesDomain?: string;
  /** Receives every alarm (SNS email subscription, confirm the first email). */
  alarmEmail: string;
  /** Public origin of the API (custom domain), without trailing slash. */
  publicBaseUrl?: string;
  /** A manual cluster snapshot is taken every this many hours (1 to 24). */
  snapshotIntervalHours: number;
  /** Manual snapshots and their DR copies are deleted after this many days. */
  snapshotRetentionDays: number;
  /** Aurora automated backup retention (point-in-time restore window), days. */
  backupRetentionDays: number;
  /** Exports expire (S3 lifecycle) after this many days. */
  exportLinkDays: number;
  /** Retention of every log group (Lambda, API access logs, PostgreSQL, flow logs). */
  logRetentionDays: number;
  /** WAF: requests per IP per 5 minutes on the whole API. */
  wafApiRateLimit: number;
  /** WAF: requests per IP per 5 minutes under /api/1.0/auth. */
  wafAuthRateLimit: number;
  /** API Gateway stage throttling: steady requests per second and burst. */
  apiThrottleRateLimit: number;
  apiThrottleBurstLimit: number;
  /** Aurora Serverless v2 capacity in ACUs (min 0 lets the cluster pause). */
  dbMinCapacity: number;
  dbMaxCapacity: number;
  /** Largest request body the API accepts (bytes). */
  maxBodyBytes: number;
  /** The plan organizations created by sign-up get (DEFAULT_PLAN): paid unlocks admin team CSV exports. */
  defaultPlan: Plan;
}

/** Organization plans (lambdas/db/schema.ts). */
export const PLANS = ['free', 'paid'] as const;
export type Plan = (typeof PLANS)[number];

interface KeyDoc {
  description: string;
  /** The default as documented; undefined means required or optional without default. */
  default: string;
}

/** Every configuration key with its default, as documented in docs/deploy.md. */
export const CONFIG_KEYS: Record<keyof AppConfig, KeyDoc> = {
  appName: { description: 'Prefix of stack names and named resources (lowercase letters, digits, single hyphens).', default: 'asana-backend' },
  account: { description: 'AWS account id to deploy to.', default: 'the account of your credentials' },
  primaryRegion: { description: 'Region of the database, API and backups.', default: 'us-east-1' },
  drRegion: { description: 'Region that receives the snapshot copies and is prepared for a restore.', default: 'us-west-2' },
  availabilityZones: {
    description: 'JSON object region -> list of at least two zone names, for both regions.',
    default: '<region>a, <region>b, <region>c',
  },
  senderEmail: { description: 'From address of all email.', default: 'required (cdk.json ships a placeholder)' },
  sesDomain: { description: 'Domain to verify in SES with DKIM; senderEmail must be on it.', default: 'none: only senderEmail is verified' },
  alarmEmail: { description: 'Address subscribed to the alarm topics.', default: 'required (cdk.json ships a placeholder)' },
  publicBaseUrl: { description: 'https origin of a custom domain in front of the API.', default: 'none: links use the API Gateway URL' },
  snapshotIntervalHours: { description: 'Hours between manual snapshots copied to the DR region (1 to 24).', default: '6' },
  snapshotRetentionDays: { description: 'Days manual snapshots and DR copies are kept (1 to 365).', default: '7' },
  backupRetentionDays: { description: 'Aurora automated backup retention, days (1 to 35).', default: '14' },
  exportLinkDays: { description: 'Days an emailed export link works and the export file is kept (1 to 30).', default: '7' },
  logRetentionDays: { description: 'CloudWatch Logs retention in days (a value CloudWatch accepts).', default: '30' },
  wafApiRateLimit: { description: 'Requests per IP per 5 minutes on the whole API before WAF blocks.', default: '2000' },
  wafAuthRateLimit: { description: 'Requests per IP per 5 minutes under /api/1.0/auth before WAF blocks.', default: '100' },
  apiThrottleRateLimit: { description: 'API Gateway stage steady-state requests per second.', default: '100' },
  apiThrottleBurstLimit: { description: 'API Gateway stage burst.', default: '200' },
  dbMinCapacity: { description: 'Aurora Serverless v2 minimum ACUs (0 pauses when idle).', default: '0.5' },
  dbMaxCapacity: { description: 'Aurora Serverless v2 maximum ACUs.', default: '4' },
  maxBodyBytes: { description: 'Largest request body accepted by the API, bytes (at most 6 MB).', default: '1048576' },
  defaultPlan: { description: 'Plan of organizations created by sign-up: free or paid (paid unlocks admin team CSV exports).', default: 'free' },
};

// ---------------------------------------------------------------------------
// Fixed constants (not configuration): one place for the numbers stacks share.
// ---------------------------------------------------------------------------

/** The database inside the cluster and its master user. */
export const DATABASE = {
  name: 'app',
  masterUsername: 'app_admin',
  /** Aurora PostgreSQL major version; the engine version itself is in the stateful stack. */
  engineMajor: 16,
  parameterGroupFamily: 'aurora-postgresql16',
} as const;

/** API Gateway stage; the API lives under /api/1.0 inside it. */
export const API_STAGE = 'prod';
export const API_BASE_PATH = '/api/1.0';
/** Prefix of the auth routes; the WAF's stricter rate rule is scoped to it. */
export const AUTH_PATH_PREFIX = `${API_BASE_PATH}/auth`;

/**
 * The export bucket's prefixes: functions are granted access per prefix (lib/functions.ts),
 * and only exports/ expires. `keys` says how the runtime names objects there.
 */
export const BUCKET_PREFIXES = {
  exports: { prefix: 'exports/', keys: 'exports/jobs/<organization>/<job>.<ext> and exports/adhoc/<organization>/<token>.<ext>' },
  attachments: { prefix: 'attachments/', keys: 'attachments/<organization>/<attachment>' },
} as const;
export type BucketPrefix = keyof typeof BUCKET_PREFIXES;
export const EXPORTS_PREFIX = BUCKET_PREFIXES.exports.prefix;
export const ATTACHMENTS_PREFIX = BUCKET_PREFIXES.attachments.prefix;
/** Ad-hoc exports (large synchronous ones, answered with a redirect) live one day. */
export const ADHOC_EXPORTS_PREFIX = `${EXPORTS_PREFIX}adhoc/`;

/**
 * Queues and the timeout of the worker that consumes each one. The export worker runs up
 * to Lambda's 15 minutes, checkpoints and hands the rest of a long export to a new message.
 */
export const WORKER_TIMEOUT_SECONDS = { exports: 900, mail: 60 } as const;
export type QueueName = keyof typeof WORKER_TIMEOUT_SECONDS;
/**
 * Timeout of the function that consumes a queue's dead-letter queue, for the queues that
 * have one (the exports dead-letter function fails those jobs and emails the requester).
 * Other dead-letter queues keep SQS's default visibility timeout and only alarm.
 */
export const DEAD_LETTER_WORKER_TIMEOUT_SECONDS = { exports: 60 } as const satisfies Partial<Record<QueueName, number>>;
export const deadLetterWorkerTimeout = (queue: QueueName): number | undefined => (DEAD_LETTER_WORKER_TIMEOUT_SECONDS as Partial<Record<QueueName, number>>)[queue];
/** A message stays invisible for this many worker timeouts (AWS recommends at least 6). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** Receives before a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
export const DLQ_RETENTION_DAYS = 14;

/** Snapshot copier: how often it runs and how many cross-region copies may run at once. */
export const SNAPSHOT_COPIER = {
  scheduleMinutes: 15,
  maxCopiesInFlight: 5,
  timeoutSeconds: 120,
  metricName: 'NewestDrCopyAgeSeconds',
} as const;

/**
 * The REST API's per-route resources (a method per route, a resource per path segment)
 * are spread over this many nested stacks, by a hash of the route's first path segment
 * (lib/constructs/route-api.ts), so that every stack stays far below CloudFormation's 500
 * resources as the route table grows. Changing it moves routes between nested stacks,
 * which API Gateway refuses in one deployment (the same path would exist twice): raise
 * it only with a plan (see docs/deploy.md).
 */
export const API_ROUTE_STACKS = 4;
/** test/infra fails when any stack (nested ones included) reaches this many resources. */
export const STACK_RESOURCE_BUDGET = 450;

/** Alarm thresholds. */
export const ALARMS = {
  /** API 5xx share of requests, percent, over 5 minutes... */
  api5xxPercent: 5,
  /** ...once at least this many requests were made in the period. */
  api5xxMinRequests: 20,
  /** SES account reputation (configuration-set metrics), as fractions. */
  sesBounceRate: 0.05,
  sesComplaintRate: 0.001,
} as const;

/** Resource names derived from the configuration (the restore CLI finds them by these). */
export const names = (config: Pick<AppConfig, 'appName'>) => ({
  stateful: `${config.appName}-stateful`,
  stateless: `${config.appName}-stateless`,
  backup: `${config.appName}-backup`,
  dr: `${config.appName}-dr`,
  clusterIdentifier: `${config.appName}-db`,
  /** Identifier prefix of the copier's manual snapshots (source and DR copy share the id). */
  snapshotPrefix: `${config.appName}-snap`,
  /** KMS alias of the DR region's key for snapshot copies. */
  drKeyAlias: `alias/${config.appName}-dr-snapshots`,
  /** DB subnet group, cluster parameter group prepared in the DR region. */
  restoreSubnetGroup: `${config.appName}-restore`,
  restoreParameterGroup: `${config.appName}-restore`,
  metricNamespace: `${config.appName}/Backups`,
  /** WAF requires log groups it writes to be named aws-waf-logs-*. */
  wafLogGroup: `aws-waf-logs-${config.appName}`,
  /** Named so that every stack can build its ARN without a cross-stack reference. */
  exportBucket: (account: string, region: string) => `${config.appName}-exports-${account}-${region}`,
});

/** On the DR subnet group: the id of the security group a restored cluster uses. */
export const RESTORE_SECURITY_GROUP_TAG = 'restore-security-group';

/** Retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

// ---------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`Invalid configuration (cdk.json context or -c overrides):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const APP_NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,23}$/;
const EMAIL = /^[^\s@]+@([a-z0-9-]+\.)+[a-z]{2,}$/i;
const DOMAIN = /^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i;

/** Placeholder addresses shipped in cdk.json; deploying them works but mail goes nowhere. */
export const isPlaceholderEmail = (email: string) => /@example\.(com|org|net)$/i.test(email);

/**
 * Reads and validates the configuration. Context values given on the command line
 * arrive as strings, so numbers and the zones object are parsed here. Every problem
 * is reported at once.
 */
export function loadConfig(read: ContextReader): AppConfig {
  const problems: string[] = [];
  const raw = (key: keyof AppConfig): unknown => {
    const value = read(key);
    return value === '' ? undefined : value;
  };

  const str = (key: keyof AppConfig, fallback?: string): string | undefined => {
    const value = raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value.trim();
  };

  const num = (key: keyof AppConfig, fallback: number, min: number, max: number, integer = true): number => {
    const value = raw(key);
    if (value === undefined || value === null) return fallback;
    const parsed = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || parsed < min || parsed > max) {
      problems.push(`${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return parsed;
  };

  const appName = str('appName', 'asana-backend')!;
  if (!APP_NAME.test(appName)) {
    problems.push(`appName must be 3 to 24 lowercase letters, digits and single hyphens, starting with a letter, got ${JSON.stringify(appName)}`);
  }

  const account = str('account');
  if (account !== undefined && !/^\d{12}$/.test(account)) problems.push(`account must be a 12-digit AWS account id, got ${JSON.stringify(account)}`);

  const primaryRegion = str('primaryRegion', 'us-east-1')!;
  const drRegion = str('drRegion', 'us-west-2')!;
  for (const [key, region] of [['primaryRegion', primaryRegion], ['drRegion', drRegion]] as const) {
    if (!REGION.test(region)) problems.push(`${key} must be an AWS region such as eu-west-1, got ${JSON.stringify(region)}`);
  }
  if (primaryRegion === drRegion) problems.push(`drRegion must differ from primaryRegion (both are ${primaryRegion})`);

  const availabilityZones = readZones(raw('availabilityZones'), [primaryRegion, drRegion], problems);

  const senderEmail = str('senderEmail');
  if (senderEmail === undefined) problems.push('senderEmail is required (the From address of all email)');
  else if (!EMAIL.test(senderEmail)) problems.push(`senderEmail must be an email address, got ${JSON.stringify(senderEmail)}`);

  const sesDomain = str('sesDomain')?.toLowerCase();
  if (sesDomain !== undefined) {
    if (!DOMAIN.test(sesDomain)) problems.push(`sesDomain must be a domain name, got ${JSON.stringify(sesDomain)}`);
    else if (senderEmail && !senderEmail.toLowerCase().endsWith(`@${sesDomain}`)) problems.push(`senderEmail ${senderEmail} must be an address on sesDomain ${sesDomain}`);
  }

  const alarmEmail = str('alarmEmail');
  if (alarmEmail === undefined) problems.push('alarmEmail is required (it receives every alarm)');
  else if (!EMAIL.test(alarmEmail)) problems.push(`alarmEmail must be an email address, got ${JSON.stringify(alarmEmail)}`);

  const publicBaseUrl = str('publicBaseUrl');
  if (publicBaseUrl !== undefined && !/^https:\/\/[a-z0-9.-]+(:\d+)?$/i.test(publicBaseUrl)) {
    problems.push(`publicBaseUrl must be an https origin without path or trailing slash, got ${JSON.stringify(publicBaseUrl)}`);
  }

  const snapshotIntervalHours = num('snapshotIntervalHours', 6, 1, 24);
  const snapshotRetentionDays = num('snapshotRetentionDays', 7, 1, 365);
  const backupRetentionDays = num('backupRetentionDays', 14, 1, 35);
  const exportLinkDays = num('exportLinkDays', 7, 1, 30);
  const logRetentionDays = num('logRetentionDays', 30, 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    problems.push(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${logRetentionDays}`);
  }
  const wafApiRateLimit = num('wafApiRateLimit', 2000, 100, 2_000_000_000);
  const wafAuthRateLimit = num('wafAuthRateLimit', 100, 100, 2_000_000_000);
  const apiThrottleRateLimit = num('apiThrottleRateLimit', 100, 1, 10_000);
  const apiThrottleBurstLimit = num('apiThrottleBurstLimit', 200, 1, 5_000);
  const dbMinCapacity = num('dbMinCapacity', 0.5, 0, 256, false);
  const dbMaxCapacity = num('dbMaxCapacity', 4, 1, 256, false);
  for (const [key, value] of [['dbMinCapacity', dbMinCapacity], ['dbMaxCapacity', dbMaxCapacity]] as const) {
    if (!Number.isInteger(value * 2)) problems.push(`${key} must be a multiple of 0.5, got ${value}`);
  }
  if (dbMaxCapacity < dbMinCapacity) problems.push(`dbMaxCapacity (${dbMaxCapacity}) must be at least dbMinCapacity (${dbMinCapacity})`);
  const maxBodyBytes = num('maxBodyBytes', 1024 * 1024, 1024, 6 * 1000 * 1000);
  const defaultPlan = str('defaultPlan', 'free')!.toLowerCase();
  if (!(PLANS as readonly string[]).includes(defaultPlan)) problems.push(`defaultPlan must be one of ${PLANS.join(', ')}, got ${JSON.stringify(defaultPlan)}`);

  if (problems.length) throw new ConfigError(problems);
  return {
    appName,
    ...(account !== undefined ? { account } : {}),
    primaryRegion,
    drRegion,
    availabilityZones,
    senderEmail: senderEmail!,
    ...(sesDomain !== undefined ? { sesDomain } : {}),
    alarmEmail: alarmEmail!,
    ...(publicBaseUrl !== undefined ? { publicBaseUrl } : {}),
    snapshotIntervalHours,
    snapshotRetentionDays,
    backupRetentionDays,
    exportLinkDays,
    logRetentionDays,
    wafApiRateLimit,
    wafAuthRateLimit,
    apiThrottleRateLimit,
    apiThrottleBurstLimit,
    dbMinCapacity,
    dbMaxCapacity,
    maxBodyBytes,
    defaultPlan: defaultPlan as Plan,
  };
}

/**
 * Zones per region: given as an object (cdk.json) or a JSON string (-c on the command
 * line). Regions not listed default to <region>a, b and c; override for regions whose
 * zone names differ in your account (check with `aws ec2 describe-availability-zones`).
 */
function readZones(value: unknown, regions: string[], problems: string[]): Record<string, string[]> {
  let given: Record<string, unknown> = {};
  if (typeof value === 'string') {
    try {
      given = JSON.parse(value) as Record<string, unknown>;
    } catch {
      problems.push(`availabilityZones must be a JSON object such as {"eu-west-1":["eu-west-1a","eu-west-1b"]}, got ${JSON.stringify(value)}`);
    }
  } else if (value !== undefined && value !== null) {
    if (typeof value !== 'object' || Array.isArray(value)) problems.push('availabilityZones must be an object of region -> list of zone names');
    else given = value as Record<string, unknown>;
  }
  const zones: Record<string, string[]> = {};
  for (const region of regions) {
    const list = given[region] ?? ['a', 'b', 'c'].map((suffix) => `${region}${suffix}`);
    if (!Array.isArray(list) || list.some((zone) => typeof zone !== 'string')) {
      problems.push(`availabilityZones.${region} must be a list of zone names`);
      continue;
    }
    const names = list as string[];
    if (new Set(names).size < 2) problems.push(`availabilityZones.${region} needs at least two distinct zones (writer and reader in different zones), got ${JSON.stringify(names)}`);
    const foreign = names.filter((zone) => !new RegExp(`^${region}[a-z]$`).test(zone));
    if (foreign.length) problems.push(`availabilityZones.${region} has zones not in ${region}: ${foreign.join(', ')}`);
    zones[region] = [...new Set(names)];
  }
  return zones;
}
