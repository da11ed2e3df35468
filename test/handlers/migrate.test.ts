/**
 * The migrate function on its AWS wiring: module-scope RDSData client, env read at
 * invocation, every statement through the Data API (answered by the stand-in over an
 * empty PGlite, with Aurora's binding rules).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ExecuteStatementCommand, RDSDataClient, type ExecuteStatementCommandInput } from '@aws-sdk/client-rds-data';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../../lambdas/db/local-engines.js';
import { loadMigrations } from '../../lambdas/db/migrator.js';
import { logger } from '../../lambdas/shared/logger.js';
import { DataApiStandIn } from '../support/data-api-standin.js';

const ENV = {
  DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:asana-backend-db',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-abc',
  DB_NAME: 'app',
  AWS_REGION: 'us-east-1',
  MIGRATE_RESUME_RETRY_DELAY_MS: '1',
};

let pglite: PGlite;
let standIn: DataApiStandIn;
let handler: typeof import('../../lambdas/handlers/migrate.js').handler;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  Object.assign(process.env, ENV);
  pglite = await openPglite();
  standIn = new DataApiStandIn(pglite);
  standIn.answer(RDSDataClient);
  ({ handler } = await import('../../lambdas/handlers/migrate.js'));
});
afterAll(async () => {
  await pglite?.close();
});

test('applies every migration over the Data API, then is a no-op on the next deploy', async () => {
  const names = (await loadMigrations()).map((m) => m.name);
  const calls = standIn.answer(RDSDataClient);
  const first = await handler();
  expect(first.applied).toEqual(names);
  expect(first.alreadyApplied).toEqual([]);
  // Every call went to the configured cluster, secret and database.
  const inputs = calls.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
  expect(inputs.length).toBeGreaterThan(names.length);
  for (const input of inputs) expect(input).toMatchObject({ resourceArn: ENV.DB_CLUSTER_ARN, secretArn: ENV.DB_SECRET_ARN, database: 'app' });

  const second = await handler();
  expect(second).toEqual({ applied: [], alreadyApplied: names });
  const tables = await pglite.query<{ n: number }>("select count(*)::int as n from information_schema.tables where table_name = 'schema_migrations'");
  expect(tables.rows[0]!.n).toBe(1);
  calls.restore();
});

test('waits while a paused cluster resumes, then migrates', async () => {
  const calls = standIn.answer(RDSDataClient);
  const resuming = Object.assign(new Error('The database is resuming'), { name: 'DatabaseResumingException' });
  let attempts = 0;
  calls.on(ExecuteStatementCommand).callsFake((input: ExecuteStatementCommandInput) => {
    attempts += 1;
    if (attempts === 1) throw resuming;
    return standIn.executeStatement(input);
  });
  const result = await handler();
  expect(result.applied).toEqual([]);
  expect(attempts).toBeGreaterThan(1);
  calls.restore();
});

test('fails the deployment on a real error, naming it', async () => {
  const calls = standIn.answer(RDSDataClient);
  const denied = Object.assign(new Error('User is not authorized to perform rds-data:ExecuteStatement'), { name: 'AccessDeniedException' });
  calls.on(ExecuteStatementCommand).rejects(denied);
  await expect(handler()).rejects.toThrow('not authorized');
  calls.restore();
});

test('fails fast, naming the variable, when the cluster is not configured', async () => {
  delete process.env.DB_CLUSTER_ARN;
  try {
    await expect(handler()).rejects.toThrow('Missing required environment variable DB_CLUSTER_ARN');
  } finally {
    process.env.DB_CLUSTER_ARN = ENV.DB_CLUSTER_ARN;
  }
});
