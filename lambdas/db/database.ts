/**
 * One typed Kysely schema, three engines:
 * - pglite:   embedded PostgreSQL (npm start, tests), data under $LOCAL_DATA_DIR/db
 * - postgres: any PostgreSQL given by DATABASE_URL (node-postgres)
 * - data-api: Aurora PostgreSQL through the RDS Data API (deployed), or the stand-in
 *
 * The first two live in local-engines.ts, so the deployed functions' bundles carry
 * neither PGlite nor node-postgres.
 */
import { Kysely, type CompiledQuery, type Driver, type QueryResult } from 'kysely';
import { DataApiDialect } from 'kysely-data-api';
import type { RDSData } from '@aws-sdk/client-rds-data';
import type { DB } from './schema.js';

export type Engine = 'pglite' | 'postgres' | 'data-api';

export interface Database {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  close(): Promise<void>;
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
