/**
 * The admin CLI (npm run admin) and the migrate CLI (npm run migrate): on the embedded
 * database (a local data directory opened for real, and a migrated PGlite handed in) and
 * on a deployed stack through the Data API (a real RDSData client answered by the
 * stand-in): set-plan changes the row, writes an audit record and prints the change; an
 * unknown organization exits 1 and changes nothing; bad usage exits 2 and touches nothing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ExecuteStatementCommand, RDSDataClient, type ExecuteStatementCommandInput } from '@aws-sdk/client-rds-data';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { sequentialIds } from '../../lambdas/adapters/ids.js';
import { type Database } from '../../lambdas/db/database.js';
import { openPglite, pgliteDatabase } from '../../lambdas/db/local-engines.js';
import { loadMigrations } from '../../lambdas/db/migrator.js';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { main, parseCommand, parseDatabaseFlags, USAGE } from '../../bin/admin.js';
import { main as migrateMain, runMigrate } from '../../bin/migrate.js';
import { ensurePgliteTemplate, openEngine, type TestEngine } from '../support/engines.js';

const CLUSTER = 'arn:aws:rds:eu-west-1:123456789012:cluster:asana-backend-db';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc';
const ORG = '1200000000000001';
const OTHER = '1200000000000002';
const DELETED = '1200000000000003';
const MISSING = '1200000000000009';

/** Runs a CLI entry point, capturing its output lines. */
async function run(entry: typeof main, argv: string[], deps: Parameters<typeof main>[1] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await entry(argv, { env: {}, ...deps, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err: err.join('\n') };
}

async function seed(db: Database['db']) {
  const now = new Date('2025-01-01T00:00:00Z');
  await organizations.create(db, { gid: ORG, name: 'Acme', now });
  await organizations.create(db, { gid: OTHER, name: 'Beta\tCorp', plan: 'paid', now });
  await organizations.create(db, { gid: DELETED, name: 'Gone', now });
  await db.updateTable('organizations').set({ deleted_at: now }).where('gid', '=', DELETED).execute();
}

const plans = async (db: Database['db']) => Object.fromEntries((await db.selectFrom('organizations').select(['gid', 'plan']).execute()).map((o) => [o.gid, o.plan]));
const audits = (db: Database['db']) => db.selectFrom('audit_log_events').selectAll().where('event_type', '=', 'organization_plan_changed').execute();

describe('arguments', () => {
  test('commands and their operands', () => {
    expect(parseCommand(['set-plan', ORG, 'paid'])).toEqual({ name: 'set-plan', organizationGid: ORG, plan: 'paid' });
    expect(parseCommand(['show-plan', ORG])).toEqual({ name: 'show-plan', organizationGid: ORG });
    expect(parseCommand(['list-organizations'])).toEqual({ name: 'list-organizations' });
    for (const bad of [[], ['frobnicate'], ['set-plan'], ['set-plan', ORG], ['set-plan', ORG, 'gold'], ['set-plan', 'acme', 'paid'], ['set-plan', '12 34', 'paid'], ['set-plan', ORG, 'paid', 'extra'], ['show-plan'], ['list-organizations', ORG]]) {
      expect(() => parseCommand(bad)).toThrow();
    }
  });

  test('database flags: local by default, DATABASE_URL, or the Data API with flags or environment', () => {
    expect(parseDatabaseFlags(['x'], { LOCAL_DATA_DIR: '/tmp/data' })).toEqual({ target: { kind: 'local', dataDir: '/tmp/data' }, rest: ['x'] });
    expect(parseDatabaseFlags([], { DATABASE_URL: 'postgres://u@h/app' }).target).toEqual({ kind: 'postgres', url: 'postgres://u@h/app' });
    expect(parseDatabaseFlags(['--data-api', '--cluster-arn', CLUSTER, `--secret-arn=${SECRET}`, 'list-organizations'], { DATABASE_URL: 'postgres://u@h/app' })).toEqual({
      target: { kind: 'data-api', clusterArn: CLUSTER, secretArn: SECRET, database: 'app', region: 'eu-west-1' },
      rest: ['list-organizations'],
    });
    expect(parseDatabaseFlags(['--data-api', '--region', 'us-east-2', '--database', 'other'], { DB_CLUSTER_ARN: CLUSTER, DB_SECRET_ARN: SECRET, DB_NAME: 'ignored' }).target).toEqual({
      kind: 'data-api',
      clusterArn: CLUSTER,
      secretArn: SECRET,
      database: 'other',
      region: 'us-east-2',
    });
    expect(parseDatabaseFlags(['--data-api'], { DB_CLUSTER_ARN: CLUSTER, DB_SECRET_ARN: SECRET, DB_NAME: 'from_env' }).target).toMatchObject({ database: 'from_env' });
    expect(() => parseDatabaseFlags(['--data-api'], {})).toThrow(/cluster-arn/);
    expect(() => parseDatabaseFlags(['--data-api', '--cluster-arn', CLUSTER], {})).toThrow(/secret-arn/);
    expect(() => parseDatabaseFlags(['--data-api', '--cluster-arn', 'not-an-arn', '--secret-arn', SECRET], {})).toThrow(/not an RDS cluster ARN/);
    expect(() => parseDatabaseFlags(['--cluster-arn', CLUSTER], {})).toThrow(/goes with --data-api/);
    expect(() => parseDatabaseFlags(['--frobnicate'], {})).toThrow(/Unknown option/);
    expect(() => parseDatabaseFlags(['--data-api', '--region'], { DB_CLUSTER_ARN: CLUSTER, DB_SECRET_ARN: SECRET })).toThrow(/needs a value/);
  });

  test('bad usage exits 2 with the usage text and opens no database; --help exits 0', async () => {
    const open = async () => {
      throw new Error('must not open');
    };
    for (const argv of [[], ['frobnicate'], ['set-plan', ORG, 'gold'], ['set-plan', 'x1', 'paid'], ['show-plan'], ['--data-api', 'list-organizations']]) {
      const result = await run(main, argv, { open });
      expect(result.code).toBe(2);
      expect(result.err).toContain('Usage: npm run admin');
      expect(result.out).toEqual([]);
    }
    expect((await run(main, ['set-plan', ORG, 'gold'], { open })).err).toMatch(/^"gold" is not a plan: use free or paid/);
    expect((await run(main, ['frobnicate'], { open })).err).toMatch(/^Unknown command frobnicate/);
    const help = await run(main, ['--help'], { open });
    expect(help).toEqual({ code: 0, out: [USAGE], err: '' });
  });
});

describe('on PGlite', () => {
  let engine: TestEngine;
  const clock = new ManualClock(new Date('2025-06-01T10:00:00Z'));
  const ids = sequentialIds(1_300_000_000_000_000);
  const deps = () => ({ open: async () => engine, clock, ids });

  beforeAll(async () => {
    engine = await openEngine('pglite');
    await seed(engine.db);
  });
  afterAll(async () => {
    await engine?.close();
  });

  test('set-plan changes the plan, prints the change and records it in the audit log', async () => {
    const result = await run(main, ['set-plan', ORG, 'paid'], deps());
    expect(result).toEqual({ code: 0, out: [`organization ${ORG} (Acme): plan free -> paid`], err: '' });
    expect(await plans(engine.db)).toEqual({ [ORG]: 'paid', [OTHER]: 'paid', [DELETED]: 'free' });
    const row = await engine.db.selectFrom('organizations').select('modified_at').where('gid', '=', ORG).executeTakeFirstOrThrow();
    expect(row.modified_at.toISOString()).toBe('2025-06-01T10:00:00.000Z');
    const [audit, ...more] = await audits(engine.db);
    expect(more).toEqual([]);
    expect(audit).toMatchObject({ organization_gid: ORG, event_category: 'admin_settings', actor_type: 'system', resource_type: 'workspace', resource_gid: ORG, details: { old_value: 'free', new_value: 'paid' } });

    expect((await run(main, ['show-plan', ORG], deps())).out).toEqual([`organization ${ORG} (Acme): plan paid`]);
    const back = await run(main, ['set-plan', ORG, 'free'], deps());
    expect(back.out).toEqual([`organization ${ORG} (Acme): plan paid -> free`]);
    expect((await plans(engine.db))[ORG]).toBe('free');
    expect(await audits(engine.db)).toHaveLength(2);
  });

  test('setting the plan an organization already has changes nothing', async () => {
    const before = await audits(engine.db);
    const result = await run(main, ['set-plan', OTHER, 'paid'], deps());
    expect(result).toEqual({ code: 0, out: [`organization ${OTHER} (Beta\tCorp): plan already paid, nothing changed`], err: '' });
    expect(await audits(engine.db)).toEqual(before);
  });

  test('an unknown or deleted organization exits 1, says so, and changes nothing', async () => {
    const before = { plans: await plans(engine.db), audits: await audits(engine.db) };
    for (const gid of [MISSING, DELETED]) {
      const result = await run(main, ['set-plan', gid, 'paid'], deps());
      expect(result.code).toBe(1);
      expect(result.out).toEqual([]);
      expect(result.err).toContain(`organization ${gid} does not exist`);
      expect((await run(main, ['show-plan', gid], deps())).code).toBe(1);
    }
    expect(await plans(engine.db)).toEqual(before.plans);
    expect(await audits(engine.db)).toEqual(before.audits);
  });

  test('bad usage changes nothing', async () => {
    const before = await plans(engine.db);
    expect((await run(main, ['set-plan', ORG, 'PAID'], deps())).code).toBe(2);
    expect((await run(main, ['set-plan', ORG, 'gold'], deps())).code).toBe(2);
    expect(await plans(engine.db)).toEqual(before);
  });

  test('list-organizations prints gid, name and plan of every organization not deleted, by name', async () => {
    const result = await run(main, ['list-organizations'], deps());
    expect(result.code).toBe(0);
    expect(result.out).toEqual(['gid\tname\tplan', `${ORG}\tAcme\tfree`, `${OTHER}\tBeta Corp\tpaid`]);
  });
});

describe('on the Data API (stand-in)', () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await openEngine('data-api');
    await seed(engine.db);
  });
  afterAll(async () => {
    await engine?.close();
  });

  test('--data-api opens the cluster through the Data API and set-plan works there', async () => {
    // Every RDSDataClient (the CLI makes its own) is answered by the stand-in.
    const calls = engine.standIn!.answer(RDSDataClient);
    try {
      const result = await run(main, ['set-plan', ORG, 'paid', '--data-api', '--cluster-arn', CLUSTER, '--secret-arn', SECRET], { env: { DATABASE_URL: 'postgres://must-not-be-used/app' } });
      expect(result).toEqual({ code: 0, out: [`organization ${ORG} (Acme): plan free -> paid`], err: '' });
      const inputs = calls.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
      expect(inputs.length).toBeGreaterThan(0);
      for (const input of inputs) expect(input).toMatchObject({ resourceArn: CLUSTER, secretArn: SECRET, database: 'app' });
      expect(await plans(engine.db)).toMatchObject({ [ORG]: 'paid' });
      expect(await audits(engine.db)).toHaveLength(1);

      const missing = await run(main, ['set-plan', MISSING, 'paid', '--data-api'], { env: { DB_CLUSTER_ARN: CLUSTER, DB_SECRET_ARN: SECRET, DB_NAME: 'app' } });
      expect(missing.code).toBe(1);
      expect(missing.err).toContain(`organization ${MISSING} does not exist`);
      expect(missing.err).toContain(`Data API ${CLUSTER}`);
      expect(await audits(engine.db)).toHaveLength(1);

      expect((await run(main, ['set-plan', ORG, 'premium', '--data-api'], { env: { DB_CLUSTER_ARN: CLUSTER, DB_SECRET_ARN: SECRET } })).code).toBe(2);
      expect(await plans(engine.db)).toMatchObject({ [ORG]: 'paid' });
    } finally {
      calls.restore();
    }
  });

  test('a paused cluster: waits while it resumes, then answers', async () => {
    const calls = engine.standIn!.answer(RDSDataClient);
    let attempts = 0;
    calls.on(ExecuteStatementCommand).callsFake((input: ExecuteStatementCommandInput) => {
      attempts += 1;
      if (attempts === 1) throw Object.assign(new Error('The database is resuming'), { name: 'DatabaseResumingException' });
      return engine.standIn!.executeStatement(input);
    });
    const waits: number[] = [];
    try {
      const result = await run(main, ['show-plan', ORG, '--data-api', '--cluster-arn', CLUSTER, '--secret-arn', SECRET], { sleep: async (ms) => void waits.push(ms) });
      expect(result.code).toBe(0);
      expect(result.out).toEqual([`organization ${ORG} (Acme): plan paid`]);
      expect(result.err).toContain('resuming');
      expect(waits).toEqual([5000]);
    } finally {
      calls.restore();
    }
  });
});

describe('migrate', () => {
  test('bad usage exits 2', async () => {
    const open = async () => {
      throw new Error('must not open');
    };
    expect((await run(migrateMain, ['now'], { open })).code).toBe(2);
    expect((await run(migrateMain, ['--data-api'], { open })).code).toBe(2);
  });

  test('on an empty PGlite: admin says to migrate first; runMigrate applies and prints every migration; the CLI then finds it up to date', async () => {
    const fresh = pgliteDatabase(await openPglite());
    try {
      const early = await run(main, ['show-plan', ORG], { open: async () => fresh });
      expect(early.code).toBe(1);
      expect(early.err).toContain('run npm run migrate first');

      const names = (await loadMigrations()).map((m) => m.name);
      const lines: string[] = [];
      expect(await runMigrate(fresh, (l) => lines.push(l))).toEqual({ applied: names, alreadyApplied: [] });
      expect(lines).toEqual([...names.map((n) => `applied ${n}`), `${names.length} migrations applied, 0 already there`]);
      expect(await fresh.db.selectFrom('organizations').select('gid').execute()).toEqual([]);

      const again = await run(migrateMain, [], { open: async () => fresh, env: { LOCAL_DATA_DIR: '/nowhere' } });
      expect(again).toEqual({ code: 0, out: ['migrating the embedded database in /nowhere', `up to date: ${names.length} migrations already applied`], err: '' });
    } finally {
      await fresh.close();
    }
  });

  test('the local data directory, opened for real by both CLIs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'admin-cli-'));
    const env = { LOCAL_DATA_DIR: dir };
    try {
      // A migrated data directory (from the suites' template, to spare an initdb), with an organization.
      const seeded = pgliteDatabase(await openPglite(join(dir, 'db'), new Blob([await readFile(await ensurePgliteTemplate())])));
      await organizations.create(seeded.db, { gid: ORG, name: 'Acme', now: new Date() });
      await seeded.close();

      expect(await run(main, ['set-plan', ORG, 'paid'], { env })).toEqual({ code: 0, out: [`organization ${ORG} (Acme): plan free -> paid`], err: '' });
      const names = (await loadMigrations()).map((m) => m.name);
      expect(await run(migrateMain, [], { env })).toEqual({ code: 0, out: [`migrating the embedded database in ${dir}`, `up to date: ${names.length} migrations already applied`], err: '' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
