/**
 * The database engines a repository suite runs on: PGlite, the Data API stand-in over
 * PGlite, and real PostgreSQL when DATABASE_URL is set. Each openEngine() gives a fresh,
 * migrated database. PGlite is expensive to create (seconds), so a migrated template is
 * made once per migration set (cached in the temp dir under a hash of the migrations;
 * concurrent first runs race harmlessly through an atomic rename) and loaded per suite.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dataApiDatabase, type Database } from '../../lambdas/db/database.js';
import { openPglite, pgliteDatabase, postgresDatabase } from '../../lambdas/db/local-engines.js';
import { checksum, loadMigrations, migrate } from '../../lambdas/db/migrator.js';
import { DataApiStandIn, type StandInOptions } from './data-api-standin.js';

export type EngineName = 'pglite' | 'data-api' | 'postgres';

export const engineNames: EngineName[] = ['pglite', 'data-api', ...(process.env.DATABASE_URL ? (['postgres'] as const) : [])];

export interface TestEngine extends Database {
  name: EngineName;
  /** Present on the data-api engine. */
  standIn?: DataApiStandIn;
}

async function templatePath(): Promise<string> {
  const migrations = await loadMigrations();
  const key = checksum(migrations.map((m) => `${m.name}:${checksum(m.sql)}`).join('\n')).slice(0, 16);
  return join(tmpdir(), `asana-backend-pglite-template-${key}.tar.gz`);
}

/** Creates the migrated PGlite template if it does not exist yet; returns its path. */
export async function ensurePgliteTemplate(): Promise<string> {
  const path = await templatePath();
  if (existsSync(path)) return path;
  const pglite = await openPglite();
  const database = pgliteDatabase(pglite);
  await migrate(database.db, await loadMigrations());
  const dump = await pglite.dumpDataDir('gzip');
  await database.close();
  const partial = `${path}.${randomBytes(6).toString('hex')}`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
  await rename(partial, path);
  return path;
}

async function migratedPglite() {
  const dump = await readFile(await ensurePgliteTemplate());
  return openPglite(undefined, new Blob([dump]));
}

export async function openEngine(name: EngineName, options: { standIn?: StandInOptions } = {}): Promise<TestEngine> {
  if (name === 'pglite') return { name, ...pgliteDatabase(await migratedPglite()) };
  if (name === 'data-api') {
    const pglite = await migratedPglite();
    const standIn = new DataApiStandIn(pglite, options.standIn);
    const database = dataApiDatabase({ client: standIn.client(), resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:standin', secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:standin', database: 'postgres' });
    return { name, ...database, standIn, close: async () => (await database.close(), await pglite.close()) };
  }
  // A throwaway database per suite on the server DATABASE_URL points at.
  const url = new URL(process.env.DATABASE_URL!);
  const dbName = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  url.pathname = `/${dbName}`;
  const database = postgresDatabase(url.toString(), { max: 4 });
  await migrate(database.db, await loadMigrations());
  return {
    name,
    ...database,
    close: async () => {
      await database.close();
      const cleanup = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${dbName}`);
      await cleanup.end();
    },
  };
}

/**
 * A local data directory whose database is already migrated (loaded from the migrated
 * template): the local server then starts in seconds instead of running every migration
 * on a fresh PGlite. The first-start migrations are what scripts/check-startup.mjs times.
 */
export async function seededDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(join(dir, 'db'), { recursive: true });
  const pglite = await openPglite(join(dir, 'db'), new Blob([await readFile(await ensurePgliteTemplate())]));
  await pglite.close();
  return dir;
}
