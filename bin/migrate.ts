#!/usr/bin/env node
/**
 * npm run migrate: applies the migrations (lambdas/db/migrations) that the database does
 * not have yet, and prints what it applied.
 *
 *   npm run migrate [-- --data-api --cluster-arn <arn> --secret-arn <arn> [--database app] [--region <region>]]
 *
 * The database is chosen as for `npm run admin` (bin/admin.ts): the local data
 * directory's embedded PGlite ($LOCAL_DATA_DIR, default .local; stop `npm start` first),
 * DATABASE_URL, or a deployed stack's Aurora through the Data API. The migrator
 * (lambdas/db/migrator.ts) applies each file in one transaction under an advisory lock,
 * refuses files edited after they were applied and databases that know migrations this
 * code does not. (Deployed stacks also migrate on deploy, through a CDK trigger.)
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage.
 */
import type { Database } from '../lambdas/db/database.js';
import { loadMigrations, migrate, type MigrationFile, type MigrationResult } from '../lambdas/db/migrator.js';
import { DATABASE_FLAGS_USAGE, UsageError, describeTarget, failureMessage, isMain, openDatabase, parseDatabaseFlags, sleep, whileResuming, type DatabaseTarget, type Env } from './admin.js';

export const USAGE = `Usage: npm run migrate [-- database flags]

Applies the migrations the database does not have yet and prints them.

${DATABASE_FLAGS_USAGE}

Exit codes: 0 done, 1 failed, 2 bad usage.`;

/** Applies the migrations and prints one line per file applied, then a summary. */
export async function runMigrate(database: Database, out: (line: string) => void, migrations?: MigrationFile[]): Promise<MigrationResult> {
  const result = await migrate(database.db, migrations ?? (await loadMigrations()));
  for (const name of result.applied) out(`applied ${name}`);
  out(
    result.applied.length
      ? `${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} applied, ${result.alreadyApplied.length} already there`
      : `up to date: ${result.alreadyApplied.length} migration${result.alreadyApplied.length === 1 ? '' : 's'} already applied`,
  );
  return result;
}

export interface MigrateMainDeps {
  open?: (target: DatabaseTarget) => Promise<Database>;
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: Env;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs the CLI; returns the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: readonly string[], deps: MigrateMainDeps = {}): Promise<number> {
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  let target: DatabaseTarget;
  try {
    if (argv.includes('--help')) {
      out(USAGE);
      return 0;
    }
    const parsed = parseDatabaseFlags(argv, deps.env ?? process.env);
    if (parsed.rest.length) throw new UsageError(`Unexpected ${parsed.rest.join(' ')}`);
    target = parsed.target;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  let database: Database | undefined;
  try {
    database = await (deps.open ?? openDatabase)(target);
    out(`migrating the ${describeTarget(target)}`);
    const open = database;
    await whileResuming(() => runMigrate(open, out), { sleep: deps.sleep ?? sleep, note: err });
    return 0;
  } catch (error) {
    err(`migrate failed on the ${describeTarget(target)}: ${failureMessage(error)}`);
    return 1;
  } finally {
    if (database && !deps.open) await database.close();
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
