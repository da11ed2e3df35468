/**
 * Databases whose every SQL statement is counted and timed: the same Kysely dialects as
 * lambdas/db/database.ts (PGlite, node-postgres), wrapped at the driver so each statement
 * that reaches the engine passes through a meter, whatever built it (query builder, raw
 * sql, transactions). The meter also reads keysetPage's own byte accounting (the
 * `_page_bytes` running sum the database computes, as the Data API would encode the rows)
 * to report the largest page any statement returned.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, type CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type QueryResult } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from '../lambdas/db/database.js';
import { openPglite, pgTypes } from '../lambdas/db/local-engines.js';
import type { DB } from '../lambdas/db/schema.js';

export class Meter {
  statements = 0;
  /** Wall time with at least one statement in flight (overlapping statements count once). */
  busyMs = 0;
  /** Largest keysetPage page, in the bytes keysetPage budgets (Data API encoding). */
  maxPageBytes = 0;
  /** Statements per label (e.g. the export section being written). */
  readonly byLabel = new Map<string, { statements: number; busyMs: number }>();
  /** The label of the statements started inside `labelled` (async context: concurrent pages keep their own). */
  readonly #label = new AsyncLocalStorage<string>();
  #inFlight = 0;
  #since = 0;

  reset(): void {
    this.statements = 0;
    this.busyMs = 0;
    this.maxPageBytes = 0;
    this.byLabel.clear();
  }

  /** Runs `work` with its statements counted under `label`. */
  labelled<T>(label: string, work: () => Promise<T>): Promise<T> {
    return this.#label.run(label, work);
  }

  async around<R>(run: () => Promise<QueryResult<R>>): Promise<QueryResult<R>> {
    const label = this.#label.getStore() ?? 'other';
    const started = performance.now();
    if (this.#inFlight++ === 0) this.#since = started;
    try {
      const result = await run();
      for (const row of result.rows as Record<string, unknown>[]) {
        const bytes = row._page_bytes;
        if (bytes !== undefined && bytes !== null) this.maxPageBytes = Math.max(this.maxPageBytes, Number(bytes));
      }
      return result;
    } finally {
      const ended = performance.now();
      if (--this.#inFlight === 0) this.busyMs += ended - this.#since;
      this.statements += 1;
      const entry = this.byLabel.get(label) ?? { statements: 0, busyMs: 0 };
      entry.statements += 1;
      entry.busyMs += ended - started;
      this.byLabel.set(label, entry);
    }
  }
}

/** A dialect whose connections report every statement to the meter. */
class MeteredDialect implements Dialect {
  constructor(
    private readonly inner: Dialect,
    private readonly meter: Meter,
  ) {}
  createAdapter() {
    return this.inner.createAdapter();
  }
  createQueryCompiler() {
    return this.inner.createQueryCompiler();
  }
  createIntrospector(db: Kysely<any>) {
    return this.inner.createIntrospector(db);
  }
  createDriver(): Driver {
    const driver = this.inner.createDriver();
    const acquire = driver.acquireConnection.bind(driver);
    const meter = this.meter;
    const wrapped = new WeakSet<DatabaseConnection>();
    driver.acquireConnection = async () => {
      const connection = await acquire();
      if (!wrapped.has(connection)) {
        wrapped.add(connection);
        const execute = connection.executeQuery.bind(connection);
        connection.executeQuery = <R>(query: CompiledQuery) => meter.around<R>(() => execute<R>(query));
      }
      return connection;
    };
    return driver;
  }
}


/** PGlite as local mode opens it (openPglite: dates as 'YYYY-MM-DD', the database's settings), metered. */
export async function meteredPglite(dataDir: string, meter: Meter): Promise<Database & { pglite: PGlite }> {
  const pglite = await openPglite(dataDir);
  const db = new Kysely<DB>({ dialect: new MeteredDialect(new PGliteDialect(pglite), meter) });
  return {
    db,
    engine: 'pglite',
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** node-postgres as local mode configures it (pgTypes), metered. */
export function meteredPostgres(connectionString: string, meter: Meter, options: { max?: number } = {}): Database & { pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, types: pgTypes });
  const db = new Kysely<DB>({ dialect: new MeteredDialect(new PostgresDialect({ pool }), meter) });
  return { db, engine: 'postgres', pool, close: () => db.destroy() };
}
