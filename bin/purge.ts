/**
 * npm run purge: the daily purge on the local data directory (or DATABASE_URL), as the
 * scheduled purge function runs it in AWS: tasks and attachments deleted over 30 days
 * ago (with their blobs), raw login IPs past retention, expired SSO state.
 * Stop `npm start` first: the embedded database has one user at a time.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LocalBlobs } from '../lambdas/adapters/blobs/local-blobs.js';
import { systemClock } from '../lambdas/adapters/clock.js';
import { loadLocalSecretsFile } from '../lambdas/adapters/secrets/local-secrets.js';
import { openPglite, pgliteDatabase, postgresDatabase } from '../lambdas/db/local-engines.js';
import { loadMigrations, migrate } from '../lambdas/db/migrator.js';
import { DEFAULT_AUTH_CONFIG } from '../lambdas/domain/auth/config.js';
import { optionalEnv } from '../lambdas/shared/env.js';
import { runPurge } from '../lambdas/workers/purge.js';

const dataDir = resolve(optionalEnv('LOCAL_DATA_DIR', '.local'));
if (!process.env.DATABASE_URL) await mkdir(join(dataDir, 'db'), { recursive: true });
const database = process.env.DATABASE_URL ? postgresDatabase(process.env.DATABASE_URL) : pgliteDatabase(await openPglite(join(dataDir, 'db')));
try {
  await migrate(database.db, await loadMigrations());
  const secrets = await loadLocalSecretsFile(dataDir);
  const blobs = new LocalBlobs({ root: join(dataDir, 'blobs'), baseUrl: 'http://127.0.0.1', secret: secrets.blobUrlKey });
  const result = await runPurge({ database, clock: systemClock, blobs, config: { maxBodyBytes: 0, auth: DEFAULT_AUTH_CONFIG, defaultPlan: 'free' } });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await database.close();
}
