/**
 * npm start: the whole backend on http://127.0.0.1:$PORT with an embedded database
 * (PGlite under $LOCAL_DATA_DIR/db), local blobs, an in-process queue and an .eml outbox.
 * No AWS account needed. Set DATABASE_URL to use a PostgreSQL server instead.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocal } from '../lambdas/local/runtime.js';
import { seedDemo } from '../lambdas/local/seed.js';
import { intEnv, optionalEnv } from '../lambdas/shared/env.js';
import { logger } from '../lambdas/shared/logger.js';

async function main() {
  const started = Date.now();
  const { values: args } = parseArgs({ options: { seed: { type: 'string' } }, strict: true });
  const seed = args.seed ?? process.env.SEED;
  if (seed !== undefined && seed !== 'demo') throw new Error(`--seed takes "demo", got ${JSON.stringify(seed)}`);
  const dataDir = optionalEnv('LOCAL_DATA_DIR', '.local');
  const runtime = await startLocal({
    dataDir,
    port: intEnv('PORT', 3000),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  });
  const engine = runtime.deps.database.engine;
  let seeded = '';
  if (seed === 'demo') {
    const demo = await seedDemo(runtime.deps);
    seeded = [
      `  demo:     ${demo.created ? 'created' : 'already there:'} organization ${demo.organizationGid}; log in with`,
      ...demo.logins.map((l) => `            ${l.email.padEnd(22)} ${JSON.stringify(l.password).padEnd(30)} (${l.role})`),
      `            e.g. curl -X POST ${runtime.baseUrl}/api/1.0/auth/login -H 'Content-Type: application/json' -d '{"data":{"email":"${demo.logins[0]!.email}","password":"${demo.logins[0]!.password}"}}'`,
    ].join('\n');
  }
  process.stdout.write(
    [
      '',
      `  Asana-compatible backend listening on ${runtime.baseUrl}/api/1.0  (ready in ${Date.now() - started} ms)`,
      `  database: ${engine === 'pglite' ? `embedded PostgreSQL (PGlite) in ${join(runtime.dataDir, 'db')}` : engine}`,
      `  mail:     written to ${runtime.outboxDir}, listed at ${runtime.baseUrl}/_local/outbox`,
      `  try:      curl ${runtime.baseUrl}/api/1.0/health`,
      ...(seeded ? [seeded] : []),
      '',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n  ${signal}: closing the server and the database...\n`);
    try {
      await runtime.close();
      process.stdout.write('  closed cleanly\n');
      process.exit(0);
    } catch (error) {
      logger.error('shutdown failed', { error: error as Error });
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  logger.error('could not start', { error: error as Error });
  process.exit(1);
});
