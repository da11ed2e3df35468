/**
 * Applies the ordered SQL files in migrations/ on any engine (PGlite, PostgreSQL, the
 * Data API). Each file runs in one transaction together with its bookkeeping row, under
 * a transaction-scoped advisory lock so that concurrent deploys cannot interleave.
 * Statements are sent one at a time: the Data API runs a single statement per call.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';
import { splitStatements } from './sql-text.js';

export interface MigrationFile {
  /** File name, e.g. 0001_core.sql; the order of application is the order of names. */
  name: string;
  sql: string;
}

export class MigrationError extends Error {}

const FILE_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;
/** Arbitrary constant that identifies this application's migration lock. */
const LOCK_KEY = 7_270_511;

export const defaultMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export async function loadMigrations(dir = defaultMigrationsDir): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const bad = names.filter((n) => !FILE_NAME.test(n));
  if (bad.length) throw new MigrationError(`migration file names must look like 0001_name.sql: ${bad.join(', ')}`);
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })));
}

export const checksum = (text: string) => createHash('sha256').update(text).digest('hex');

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export async function migrate(db: Kysely<DB>, migrations: MigrationFile[]): Promise<MigrationResult> {
  const sorted = [...migrations].sort((a, b) => a.name.localeCompare(b.name));
  await sql`create table if not exists schema_migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`.execute(db);

  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  for (const migration of sorted) {
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(LOCK_KEY)})`.execute(trx);
      const done = await trx.selectFrom('schema_migrations').select(['name', 'checksum']).where('name', '=', migration.name).executeTakeFirst();
      const sum = checksum(migration.sql);
      if (done) {
        if (done.checksum !== sum) throw new MigrationError(`migration ${migration.name} was changed after it was applied; add a new migration instead`);
        result.alreadyApplied.push(migration.name);
        return;
      }
      for (const statement of splitStatements(migration.sql)) await sql.raw(statement).execute(trx);
      await trx.insertInto('schema_migrations').values({ name: migration.name, checksum: sum }).execute();
      result.applied.push(migration.name);
    });
  }
  const known = new Set(sorted.map((m) => m.name));
  const unknown = (await db.selectFrom('schema_migrations').select('name').execute()).filter((r) => !known.has(r.name));
  if (unknown.length) throw new MigrationError(`the database has migrations this code does not know: ${unknown.map((r) => r.name).join(', ')}`);
  return result;
}
