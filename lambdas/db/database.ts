/**
 * One typed Kysely schema, three engines:
 * - pglite:   embedded PostgreSQL (npm start, tests), data under $LOCAL_DATA_DIR/db
 * - postgres: any PostgreSQL given by DATABASE_URL (node-postgres)
 * - data-api: Aurora PostgreSQL through the RDS Data API (deployed), or the stand-in
 */
import { Kysely, PostgresDialect, type CompiledQuery, type Driver, type QueryResult } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { DataApiDialect } from 'kysely-data-api';
import type { RDSData } from '@aws-sdk/client-rds-data';
import pg from 'pg';
import type { DB } from './schema.js';

export type Engine = 'pglite' | 'postgres' | 'data-api';

export interface Database {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  close(): Promise<void>;
}

const DATE_OID = 1082;

/**
 * Dates (due_on, start_on) are calendar days, not instants: every engine returns them
 * as 'YYYY-MM-DD' strings (node-postgres and PGlite would otherwise build a Date at
 * local midnight). The Data API dialect parses them into Dates; dateOnly() in query.ts
 * normalizes both.
 */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === DATE_OID ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Opens (creating if needed) an embedded database; dataDir undefined means in memory. */
export async function openPglite(dataDir?: string, loadDataDir?: Blob): Promise<PGlite> {
  return PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(loadDataDir ? { loadDataDir } : {}), parsers: { [DATE_OID]: (v: string) => v } });
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

export interface DataApiConfig {
  /** The aggregated client (kysely-data-api calls its methods directly). */
  client: RDSData;
  resourceArn: string;
  secretArn: string;
  database: string;
}

/**
 * kysely-data-api still reports the pre-0.23 `numUpdatedOrDeletedRows` next to
 * `numAffectedRows`, which makes Kysely log a warning on first use; drop the old field.
 */
class CurrentDataApiDialect extends DataApiDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const acquire = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async () => {
      const connection = await acquire();
      const execute = connection.executeQuery.bind(connection);
      connection.executeQuery = async <R>(query: CompiledQuery) => {
        const result = (await execute(query)) as QueryResult<R> & { numUpdatedOrDeletedRows?: bigint };
        delete result.numUpdatedOrDeletedRows;
        return result;
      };
      return connection;
    };
    return driver;
  }
}

export function dataApiDatabase(config: DataApiConfig): Database {
  const db = new Kysely<DB>({ dialect: new CurrentDataApiDialect({ mode: 'postgres', driver: config }) });
  return { db, engine: 'data-api', close: () => db.destroy() };
}
