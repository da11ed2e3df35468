/**
 * The engines of local mode and tests: embedded PostgreSQL (PGlite) and any PostgreSQL by
 * DATABASE_URL (node-postgres). Kept apart from database.ts so that deployed functions,
 * which use the Data API only, never bundle them.
 */
import { Kysely, PostgresDialect } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from './database.js';
import type { DB } from './schema.js';

const DATE_OID = 1082;

/**
 * Dates (due_on, start_on) are calendar days, not instants: every engine returns them
 * as 'YYYY-MM-DD' strings (node-postgres and PGlite would otherwise build a Date at
 * local midnight). The Data API dialect parses them into Dates; dateOnly() in query.ts
 * normalizes both.
 */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === DATE_OID ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Opens (creating if needed) an embedded database; dataDir undefined means in memory. */
export async function openPglite(dataDir?: string, loadDataDir?: Blob): Promise<PGlite> {
  const pglite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(loadDataDir ? { loadDataDir } : {}), parsers: { [DATE_OID]: (v: string) => v } });
  await applyDatabaseSettings(pglite);
  return pglite;
}

/**
 * PostgreSQL applies a database's settings (`alter database ... set`, stored in
 * pg_db_role_setting) to every session it starts; PGlite's one session starts without
 * them, so they are applied here (e.g. migration 0008's planner costs). Nothing when the
 * database has none (not migrated yet: the migration sets them for its own session).
 */
async function applyDatabaseSettings(pglite: PGlite): Promise<void> {
  await pglite.query(`
    select set_config(split_part(s.setting, '=', 1), substr(s.setting, strpos(s.setting, '=') + 1), false)
    from pg_db_role_setting r cross join unnest(r.setconfig) as s(setting)
    where r.setrole = 0 and r.setdatabase = (select oid from pg_database where datname = current_database())`);
}

/** Closing the database closes the PGlite instance too (the dialect's driver does). */
export function pgliteDatabase(pglite: PGlite): Database {
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    engine: 'pglite',
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

export function postgresDatabase(connectionString: string, options: { max?: number } = {}): Database {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, types: pgTypes });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', close: () => db.destroy() };
}

