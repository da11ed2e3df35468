import { afterAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { dataApiDatabase, type Database } from '../../lambdas/db/database.js';
import { openPglite, pgliteDatabase } from '../../lambdas/db/local-engines.js';
import { loadMigrations, migrate, MigrationError, type MigrationFile } from '../../lambdas/db/migrator.js';
import { DataApiStandIn } from '../support/data-api-standin.js';
import { engineNames, openEngine } from '../support/engines.js';

/** A fresh, empty database per engine: migrations must work from nothing. */
async function emptyDatabase(engine: string): Promise<Database> {
  if (engine === 'postgres') return openEngine('postgres'); // already migrated once; migrate() must be a no-op there
  const pglite = await openPglite();
  if (engine === 'pglite') return pgliteDatabase(pglite);
  const standIn = new DataApiStandIn(pglite);
  const database = dataApiDatabase({ client: standIn.client(), resourceArn: 'arn:r', secretArn: 'arn:s', database: 'postgres' });
  return { ...database, close: async () => (await database.close(), await pglite.close()) };
}

describe.each(engineNames)('migrations on %s', (engine) => {
  let database: Database;
  const opened: Database[] = [];
  afterAll(async () => {
    for (const d of opened) await d.close();
  });

  test('apply every file once, in order, and are a no-op the second time', async () => {
    database = await emptyDatabase(engine);
    opened.push(database);
    const files = await loadMigrations();
    expect(files.map((f) => f.name)).toEqual([...files.map((f) => f.name)].sort());
    const first = await migrate(database.db, files);
    if (engine !== 'postgres') expect(first.applied).toEqual(files.map((f) => f.name));
    const second = await migrate(database.db, files);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(files.map((f) => f.name));
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(database.db);
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['organization_memberships', 'organizations', 'outbox_messages', 'schema_migrations', 'users']),
    );
  });

  test('a failing migration leaves nothing behind (one transaction per file)', async () => {
    const files = await loadMigrations();
    const broken: MigrationFile = { name: '9998_broken.sql', sql: 'create table half_done (x int);\nselect * from no_such_table;' };
    await expect(migrate(database.db, [...files, broken])).rejects.toThrow(/no_such_table/);
    const left = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_name = 'half_done'`.execute(database.db);
    expect(Number(left.rows[0]!.n)).toBe(0);
    const recorded = await database.db.selectFrom('schema_migrations').select('name').where('name', '=', broken.name).execute();
    expect(recorded).toEqual([]);
  });

  test('refuses a migration edited after it was applied', async () => {
    const files = await loadMigrations();
    const edited = files.map((f, i) => (i === 0 ? { ...f, sql: `${f.sql}\n-- edited` } : f));
    await expect(migrate(database.db, edited)).rejects.toThrow(MigrationError);
  });

  test('refuses to run older code against a database with unknown migrations', async () => {
    const files = await loadMigrations();
    const extra: MigrationFile = { name: '9999_extra.sql', sql: "create table extra_table (gid text primary key);\ninsert into extra_table values ('a;b')" };
    expect((await migrate(database.db, [...files, extra])).applied).toEqual(['9999_extra.sql']);
    await expect(migrate(database.db, files)).rejects.toThrow(/does not know: 9999_extra.sql/);
  });
});

test('migration files must be named NNNN_name.sql', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  await writeFile(join(dir, '0001_ok.sql'), 'select 1');
  await writeFile(join(dir, 'oops.sql'), 'select 1');
  await expect(loadMigrations(dir)).rejects.toThrow(/oops.sql/);
  await rm(dir, { recursive: true });
});

describe('planner costs (migration 0008)', () => {
  const setting = async (database: Database) => (await sql<{ random_page_cost: string }>`show random_page_cost`.execute(database.db)).rows[0]!.random_page_cost;

  test('a migrated PGlite data directory opens with random_page_cost 1.1, as a PostgreSQL session would', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'planner-costs-'));
    try {
      const fresh = pgliteDatabase(await openPglite(dir));
      expect(await setting(fresh)).toBe('4'); // PostgreSQL's default before the migration
      await migrate(fresh.db, await loadMigrations());
      expect(await setting(fresh)).toBe('1.1'); // the migrating session
      await fresh.close();
      const reopened = pgliteDatabase(await openPglite(dir));
      try {
        expect(await setting(reopened)).toBe('1.1'); // a new session: from pg_db_role_setting
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each(engineNames.filter((e) => e !== 'pglite'))('new sessions on %s plan with random_page_cost 1.1', async (engine) => {
    const database = await openEngine(engine);
    try {
      expect(await setting(database)).toBe('1.1');
    } finally {
      await database.close();
    }
  });
});
