/**
 * Every deployed function bundles with esbuild using the settings the function construct
 * gives NodejsFunction (ESM, minified, source maps, AWS SDK inside), the migrate bundle
 * carries its SQL files where the migrator looks for them, and each bundle loads in Node.
 * A fast check instead of a deployment.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, stop } from 'esbuild';
import { BUNDLING, MIGRATIONS_SOURCE, MIGRATIONS_TARGET, PROJECT_ROOT, copyMigrationsCommands } from '../../lib/constructs/app-function.js';
import { FUNCTIONS, type FunctionSpec } from '../../lib/functions.js';

/** Every function the stacks deploy: the table plus the backup stack's copier. */
const functions: [string, Pick<FunctionSpec, 'entry' | 'bundleMigrations'>][] = [
  ...(Object.entries(FUNCTIONS) as [string, FunctionSpec][]),
  ['snapshotCopier', { entry: 'lambdas/handlers/snapshot-copier.ts' }],
];

/** What the deployed functions find in their environment (dummy values: loading must not call AWS). */
const DEPLOYED_ENV = {
  AWS_REGION: 'us-east-1',
  DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:x',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x',
  DB_NAME: 'app',
  EXPORT_BUCKET: 'exports',
  EXPORT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/exports',
  MAIL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/mail',
  MAIL_FROM: 'no-reply@example.com',
  APP_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app',
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
};

let out: string;
const bundles = new Map<string, { dir: string; inputs: string[] }>();

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'bundles-'));
  await Promise.all(
    functions.map(async ([name, spec]) => {
      const dir = join(out, name);
      const result = await build({
        entryPoints: [join(PROJECT_ROOT, spec.entry)],
        outfile: join(dir, BUNDLING.outputFile),
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
        metafile: true,
        logLevel: 'silent',
      });
      if (spec.bundleMigrations) for (const command of copyMigrationsCommands(PROJECT_ROOT, dir)) execSync(command, { cwd: PROJECT_ROOT });
      bundles.set(name, { dir, inputs: Object.keys(result.metafile.inputs) });
    }),
  );
}, 120_000);
afterAll(async () => {
  await stop(); // esbuild's service process would keep the worker alive
  if (out) rmSync(out, { recursive: true, force: true });
});

describe.each(functions)('%s', (name, spec) => {
  test('bundles into one minified ESM file with a source map, AWS SDK included', () => {
    const bundle = bundles.get(name)!;
    const file = join(bundle.dir, BUNDLING.outputFile);
    expect(statSync(file).size).toBeGreaterThan(1000);
    expect(existsSync(`${file}.map`)).toBe(true);
    expect(bundle.inputs.some((input) => input.includes('node_modules/@aws-sdk/client-'))).toBe(true);
    expect(readdirSync(bundle.dir).filter((f) => f !== MIGRATIONS_TARGET).sort()).toEqual([BUNDLING.outputFile, `${BUNDLING.outputFile}.map`]);
  });

  test('loads in Node as an ES module and exports its handler', () => {
    const file = join(bundles.get(name)!.dir, BUNDLING.outputFile);
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(file)}); console.log(typeof m.handler);`], {
      env: { PATH: process.env.PATH, ...DEPLOYED_ENV },
      encoding: 'utf8',
    });
    expect(output.trim().split('\n').at(-1)).toBe('function');
  });

  if (spec.bundleMigrations) {
    test('ships the SQL migrations next to the bundle, where the migrator reads them', () => {
      const shipped = readdirSync(join(bundles.get(name)!.dir, MIGRATIONS_TARGET)).sort();
      const source = readdirSync(join(PROJECT_ROOT, MIGRATIONS_SOURCE)).filter((f) => f.endsWith('.sql')).sort();
      expect(source.length).toBeGreaterThan(0);
      expect(shipped).toEqual(source);
    });
  }
});
