/**
 * The one function construct every deployed Lambda uses: latest Node.js runtime on
 * ARM64, esbuild bundling (ESM, minified, source maps, AWS SDK bundled), its own log
 * group with retention, X-Ray tracing, its own role, and bind helpers that set an
 * environment variable and grant exactly what that variable is for, together.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, nagArn } from './nag.js';

/** The repository root (entries, package-lock.json and lambdas/db/migrations are found from it). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The newest Node.js runtime this aws-cdk-lib knows, pinned so that synth output is stable. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * esbuild settings shared by the CDK bundling and by the bundling check in
 * test/infra (which runs esbuild with these same values).
 */
export const BUNDLING = {
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  /** Bundled CommonJS dependencies may call require(); give ESM output one. */
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  /**
   * The AWS SDK v3 clients are bundled (pinned versions, no runtime drift). External only:
   * supports-color, an optional peer that debug (under @node-saml/node-saml) require()s in
   * a try/catch; it is a dev-only install here, so it must not ship.
   */
  external: ['supports-color'] as string[],
  outputFile: 'index.mjs',
} as const;

/**
 * BUNDLING as esbuild's own build options: what NodejsFunction runs, for the checks and
 * measurements that bundle a function themselves (test/infra/bundling.test.ts, bench/).
 */
export function esbuildOptions() {
  return {
    bundle: true,
    platform: BUNDLING.platform,
    format: BUNDLING.format,
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourcemap,
    sourcesContent: BUNDLING.sourcesContent,
    mainFields: [...BUNDLING.mainFields],
    banner: { js: BUNDLING.banner },
    external: [...BUNDLING.external],
  };
}

/** Where the migrate function finds its SQL files: next to the bundle, as the migrator expects. */
export const MIGRATIONS_SOURCE = 'lambdas/db/migrations';
export const MIGRATIONS_TARGET = 'migrations';

/** The exec wrapper that starts Node with a function's pinned V8 flags: its source, and its name in the bundle (/var/task). */
export const V8_FLAGS_WRAPPER_SOURCE = 'lib/runtime/v8-flags.sh';
export const V8_FLAGS_WRAPPER = 'v8-flags.sh';
/** Where the wrapper reads the flags. */
export const V8_FLAGS_ENV = 'LAMBDA_V8_FLAGS';

/**
 * Shell commands run after esbuild: the SQL migrations for the functions that carry them,
 * the V8 flags wrapper (executable: the asset zip keeps file modes) for those that pin
 * flags.
 */
export function afterBundlingCommands(props: Pick<AppFunctionProps, 'bundleMigrations' | 'v8Flags'>, inputDir: string, outputDir: string): string[] {
  const commands: string[] = [];
  if (props.bundleMigrations) {
    const copy = "require('node:fs').cpSync(process.argv[1], process.argv[2], { recursive: true })";
    commands.push(`node -e "${copy}" "${join(inputDir, MIGRATIONS_SOURCE)}" "${join(outputDir, MIGRATIONS_TARGET)}"`);
  }
  if (props.v8Flags?.length) {
    const copy = "const fs = require('node:fs'); fs.copyFileSync(process.argv[1], process.argv[2]); fs.chmodSync(process.argv[2], 0o755)";
    commands.push(`node -e "${copy}" "${join(inputDir, V8_FLAGS_WRAPPER_SOURCE)}" "${join(outputDir, V8_FLAGS_WRAPPER)}"`);
  }
  return commands;
}

/** Environment variable names read by lambdas/ (see lambdas/handlers/shared.ts). */
export const ENV = {
  dbClusterArn: 'DB_CLUSTER_ARN',
  dbSecretArn: 'DB_SECRET_ARN',
  dbName: 'DB_NAME',
  exportBucket: 'EXPORT_BUCKET',
  exportQueueUrl: 'EXPORT_QUEUE_URL',
  mailQueueUrl: 'MAIL_QUEUE_URL',
  mailFrom: 'MAIL_FROM',
  sesConfigurationSet: 'SES_CONFIGURATION_SET',
  publicBaseUrl: 'PUBLIC_BASE_URL',
  maxBodyBytes: 'MAX_BODY_BYTES',
  appSecretArn: 'APP_SECRET_ARN',
  defaultPlan: 'DEFAULT_PLAN',
  exportLinkDays: 'EXPORT_LINK_DAYS',
} as const;

/** Access to one prefix of a bucket (see BucketAccess in lib/functions.ts). */
export interface PrefixGrant {
  /** e.g. "exports/" */
  prefix: string;
  access: 'read' | 'read-write' | 'delete';
  /** How the runtime names the keys under it (for the cdk-nag acknowledgment of the wildcard). */
  keys: string;
}

/** Object actions per access level; multipart actions go with writing (large uploads and exports). */
export const PREFIX_ACTIONS: Record<PrefixGrant['access'], string[]> = {
  read: ['s3:GetObject'],
  'read-write': ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
  delete: ['s3:DeleteObject', 's3:AbortMultipartUpload'],
};

export interface AppFunctionProps {
  /** Handler file, relative to the repository root, e.g. lambdas/handlers/api.ts. */
  entry: string;
  /** Names the function in its logs (POWERTOOLS_SERVICE_NAME). */
  serviceName: string;
  description: string;
  memoryMb: number;
  timeout: Duration;
  logRetention: logs.RetentionDays;
  /** Copy lambdas/db/migrations next to the bundle (the migrate function). */
  bundleMigrations?: boolean;
  /**
   * V8 flags that replace the heap sizes the Node.js runtime passes on its command line
   * (through the V8_FLAGS_WRAPPER exec wrapper: NODE_OPTIONS cannot override them).
   */
  v8Flags?: readonly string[];
  environment?: Record<string, string>;
}

/** What bindDatabase needs: the cluster behind the Data API and its master secret. */
export interface DatabaseBinding {
  clusterArn: string;
  secretArn: string;
  databaseName: string;
  /** The key that encrypts the secret. */
  key: kms.IKey;
}

export interface MailBinding {
  from: string;
  configurationSetName: string;
  /** ARNs of the SES identity and configuration set (needed to send). */
  identityArn: string;
  configurationSetArn: string;
}

export class AppFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly #env = new Set<string>();

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (${id})`,
    });
    // Instead of the AWSLambdaBasicExecutionRole managed policy: write to its own log group only.
    this.logGroup.grantWrite(this.role);

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...(props.v8Flags?.length ? { AWS_LAMBDA_EXEC_WRAPPER: `/var/task/${V8_FLAGS_WRAPPER}`, [V8_FLAGS_ENV]: props.v8Flags.join(' ') } : {}),
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLING.target,
        minify: BUNDLING.minify,
        sourceMap: BUNDLING.sourcemap,
        sourcesContent: BUNDLING.sourcesContent,
        mainFields: [...BUNDLING.mainFields],
        banner: BUNDLING.banner,
        bundleAwsSDK: true,
        externalModules: [...BUNDLING.external],
        ...(props.bundleMigrations || props.v8Flags?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => afterBundlingCommands(props, inputDir, outputDir),
              },
            }
          : {}),
      },
    });

    for (const name of Object.keys(props.environment ?? {})) this.#env.add(name);
    // Tracing adds xray:PutTraceSegments/PutTelemetryRecords on "*" to the role.
    acknowledge(
      this.policy(),
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions; "*" is the only resource they accept.',
    );
  }

  get functionArn(): string {
    return this.fn.functionArn;
  }

  /** Sets a variable that grants nothing (an address the code reads but does not use). */
  setEnv(name: string, value: string): this {
    this.fn.addEnvironment(name, value);
    this.#env.add(name);
    return this;
  }

  hasEnv(name: string): boolean {
    return this.#env.has(name);
  }

  /** Aurora through the Data API: DB_* variables, rds-data on the cluster, read the secret. */
  bindDatabase(db: DatabaseBinding): this {
    this.setEnv(ENV.dbClusterArn, db.clusterArn).setEnv(ENV.dbSecretArn, db.secretArn).setEnv(ENV.dbName, db.databaseName);
    this.allow(
      ['rds-data:ExecuteStatement', 'rds-data:BatchExecuteStatement', 'rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:RollbackTransaction'],
      [db.clusterArn],
    );
    this.allow(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], [db.secretArn]);
    this.allowKey(db.key, ['kms:Decrypt'], 'secretsmanager');
    return this;
  }

  /**
   * Prefixes of a bucket: the bucket name in `envName`, and per prefix exactly the object
   * actions of its access level (PREFIX_ACTIONS) on `<bucket>/<prefix>*`. Reading also gets
   * ListBucket on the bucket, so that HeadObject answers 404, not 403, for a missing key;
   * the KMS key is usable through S3 only, to decrypt when reading and to encrypt when
   * writing (deleting needs neither). The bucket is given by name (it has a fixed one), so
   * no cross-stack reference is needed.
   */
  bindBucket(envName: string, bucketName: string, key: kms.IKey, grants: PrefixGrant[]): this {
    if (grants.length === 0) throw new Error(`${this.node.path}: bindBucket needs at least one prefix`);
    this.setEnv(envName, bucketName);
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucketName}`;
    for (const grant of grants) {
      const objects = `${bucketArn}/${grant.prefix}*`;
      this.allow(PREFIX_ACTIONS[grant.access], [objects]);
      acknowledge(
        this.policy(),
        `AwsSolutions-IAM5[Resource::${nagArn(objects)}]`,
        `Object keys under ${grant.prefix} are generated at run time (${grant.keys}); ${grant.access} access is limited to that prefix of the one bucket.`,
      );
    }
    const reads = grants.some((g) => g.access !== 'delete');
    const writes = grants.some((g) => g.access === 'read-write');
    if (reads) {
      this.allow(['s3:ListBucket'], [bucketArn]);
      this.allowKey(key, writes ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'], 's3');
    }
    return this;
  }

  /** A queue: its URL in `envName` and SendMessage (with the KMS data key it needs). */
  bindQueueSender(envName: string, queue: sqs.IQueue, key: kms.IKey): this {
    this.setEnv(envName, queue.queueUrl);
    this.allow(['sqs:SendMessage'], [queue.queueArn]);
    this.allowKey(key, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs');
    return this;
  }

  /** The sender address and configuration set; with `send`, ses:SendEmail from that address only. */
  bindMail(mail: MailBinding, options: { send: boolean }): this {
    this.setEnv(ENV.mailFrom, mail.from).setEnv(ENV.sesConfigurationSet, mail.configurationSetName);
    if (options.send) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [mail.identityArn, mail.configurationSetArn],
          conditions: { StringEquals: { 'ses:FromAddress': mail.from } },
        }),
      );
    }
    return this;
  }

  /** The application master secret: its ARN in APP_SECRET_ARN and read access to it. */
  bindAppSecret(secret: secretsmanager.ISecret, key: kms.IKey): this {
    this.setEnv(ENV.appSecretArn, secret.secretArn);
    this.allow(['secretsmanager:GetSecretValue'], [secret.secretArn]);
    this.allowKey(key, ['kms:Decrypt'], 'secretsmanager');
    return this;
  }

  /** Adds a statement to this function's own policy. */
  allow(actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>): this {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
    return this;
  }

  /** Key use restricted to calls made through one service (kms:ViaService). */
  private allowKey(key: kms.IKey, actions: string[], service: 'secretsmanager' | 's3' | 'sqs'): void {
    const region = Stack.of(this).region;
    this.allow(actions, [key.keyArn], { StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } });
  }

  /** The CloudFormation resource of this function's role policy (where its findings are). */
  policy(): iam.CfnPolicy {
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    const resource = policy?.node.defaultChild;
    if (!(resource instanceof iam.CfnPolicy)) throw new Error(`${this.node.path} has no role policy yet`);
    return resource;
  }
}
