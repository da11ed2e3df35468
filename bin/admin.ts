#!/usr/bin/env node
/**
 * Operator commands on the database.
 *
 *   npm run admin -- set-plan <organization gid> free|paid [database flags]
 *   npm run admin -- show-plan <organization gid> [database flags]
 *   npm run admin -- list-organizations [database flags]
 *
 * The database is the local data directory's embedded PGlite ($LOCAL_DATA_DIR, default
 * .local; stop `npm start` first: it has one user at a time), or the PostgreSQL that
 * DATABASE_URL names, or with --data-api a deployed stack's Aurora through the RDS Data
 * API (--cluster-arn, --secret-arn, --database, --region; or DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME). The same flags serve `npm run migrate` (bin/migrate.ts).
 *
 * A plan change is written with an audit record (admin_settings /
 * organization_plan_changed, actor "system") in one transaction.
 *
 * Exit codes: 0 done, 1 failed (e.g. no such organization), 2 bad usage.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RDSData } from '@aws-sdk/client-rds-data';
import { systemClock } from '../lambdas/adapters/clock.js';
import { cryptoIds } from '../lambdas/adapters/ids.js';
import type { Clock, Ids } from '../lambdas/adapters/ports.js';
import { dataApiDatabase, type Database } from '../lambdas/db/database.js';
import { openPglite, pgliteDatabase, postgresDatabase } from '../lambdas/db/local-engines.js';
import { keysetPage, sqlState, type KeysetPage } from '../lambdas/db/query.js';
import { organizations } from '../lambdas/db/repositories/organizations.js';
import { recordAudit } from '../lambdas/domain/audit.js';

export class UsageError extends Error {}
/** --help: print the usage and stop. */
class HelpRequested extends Error {}
/** A failure to report in one line (exit code 1). */
export class AdminError extends Error {}

// --- Database flags (shared with bin/migrate.ts) ------------------------------------------

export type DatabaseTarget =
  | { kind: 'local'; dataDir: string }
  | { kind: 'postgres'; url: string }
  | { kind: 'data-api'; clusterArn: string; secretArn: string; database: string; region?: string };

export const DATABASE_FLAGS_USAGE = `Database (default: the embedded database in $LOCAL_DATA_DIR, default .local; stop npm start first; or DATABASE_URL):
  --data-api               use a deployed stack's Aurora through the RDS Data API
  --cluster-arn <arn>      the cluster (default $DB_CLUSTER_ARN)
  --secret-arn <arn>       the database secret (default $DB_SECRET_ARN)
  --database <name>        the database name (default $DB_NAME, else app)
  --region <region>        the AWS region (default: the cluster ARN's region)
  --help                   this text`;

export type Env = Record<string, string | undefined>;

/** Takes the database flags out of `argv`; returns the target and the remaining arguments. */
export function parseDatabaseFlags(argv: readonly string[], env: Env): { target: DatabaseTarget; rest: string[] } {
  const rest: string[] = [];
  const flags: { dataApi: boolean; clusterArn?: string; secretArn?: string; database?: string; region?: string } = { dataApi: false };
  const args = [...argv];
  while (args.length) {
    const arg = args.shift()!;
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args.shift();
      if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
        throw new HelpRequested();
      case '--data-api':
        if (inline !== undefined) throw new UsageError('--data-api takes no value');
        flags.dataApi = true;
        break;
      case '--cluster-arn':
        flags.clusterArn = value();
        break;
      case '--secret-arn':
        flags.secretArn = value();
        break;
      case '--database':
        flags.database = value();
        break;
      case '--region':
        flags.region = value();
        break;
      default:
        throw new UsageError(`Unknown option ${flag}`);
    }
  }
  if (!flags.dataApi) {
    const stray = (['clusterArn', 'secretArn', 'database', 'region'] as const).filter((k) => flags[k] !== undefined);
    if (stray.length) throw new UsageError(`--${stray[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --data-api`);
    if (env.DATABASE_URL) return { target: { kind: 'postgres', url: env.DATABASE_URL }, rest };
    return { target: { kind: 'local', dataDir: resolve(env.LOCAL_DATA_DIR || '.local') }, rest };
  }
  const clusterArn = flags.clusterArn ?? env.DB_CLUSTER_ARN;
  const secretArn = flags.secretArn ?? env.DB_SECRET_ARN;
  if (!clusterArn) throw new UsageError('--data-api needs --cluster-arn (or DB_CLUSTER_ARN)');
  if (!secretArn) throw new UsageError('--data-api needs --secret-arn (or DB_SECRET_ARN)');
  if (!/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:.+$/.test(clusterArn)) throw new UsageError(`--cluster-arn ${clusterArn} is not an RDS cluster ARN`);
  if (!/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(secretArn)) throw new UsageError(`--secret-arn ${secretArn} is not a Secrets Manager secret ARN`);
  const region = flags.region ?? clusterArn.split(':')[3];
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new UsageError(`--region ${region} is not a region name`);
  return { target: { kind: 'data-api', clusterArn, secretArn, database: flags.database ?? env.DB_NAME ?? 'app', ...(region ? { region } : {}) }, rest };
}

/** Opens the database a target names (the caller closes it). */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  switch (target.kind) {
    case 'local':
      await mkdir(join(target.dataDir, 'db'), { recursive: true });
      return pgliteDatabase(await openPglite(join(target.dataDir, 'db')));
    case 'postgres':
      return postgresDatabase(target.url, { max: 2 });
    case 'data-api':
      return dataApiDatabase({ client: new RDSData(target.region ? { region: target.region } : {}), resourceArn: target.clusterArn, secretArn: target.secretArn, database: target.database });
  }
}

/** Where the commands run, in words (printed first, so an operator sees which database answered). */
export function describeTarget(target: DatabaseTarget): string {
  switch (target.kind) {
    case 'local':
      return `embedded database in ${target.dataDir}`;
    case 'postgres': {
      try {
        const url = new URL(target.url);
        return `PostgreSQL ${url.host}${url.pathname}`;
      } catch {
        return 'PostgreSQL (DATABASE_URL)';
      }
    }
    case 'data-api':
      return `Data API ${target.clusterArn} database ${target.database}`;
  }
}

// --- Commands ------------------------------------------------------------------------------

export type Plan = 'free' | 'paid';

export const PLANS: readonly Plan[] = ['free', 'paid'];
/** A gid as the API accepts one (a string of digits). */
const GID = /^\d{1,19}$/;

export type AdminCommand = { name: 'set-plan'; organizationGid: string; plan: Plan } | { name: 'show-plan'; organizationGid: string } | { name: 'list-organizations' };

export const USAGE = `Usage: npm run admin -- <command> [database flags]

Commands:
  set-plan <organization gid> free|paid   change an organization's plan (with an audit record)
  show-plan <organization gid>            print an organization's plan
  list-organizations                      print every organization: gid, name, plan (tab-separated)

${DATABASE_FLAGS_USAGE}

Exit codes: 0 done, 1 failed (e.g. no such organization), 2 bad usage.`;

export function parseCommand(args: readonly string[]): AdminCommand {
  const [name, ...operands] = args;
  const gid = (value: string | undefined) => {
    if (value === undefined) throw new UsageError(`${name} needs an organization gid`);
    if (!GID.test(value)) throw new UsageError(`${JSON.stringify(value)} is not an organization gid (a string of digits)`);
    return value;
  };
  const expect = (count: number) => {
    if (operands.length > count) throw new UsageError(`${name}: unexpected ${operands.slice(count).join(' ')}`);
  };
  switch (name) {
    case 'set-plan': {
      const organizationGid = gid(operands[0]);
      const plan = operands[1];
      if (plan === undefined) throw new UsageError('set-plan needs a plan: free or paid');
      if (!(PLANS as readonly string[]).includes(plan)) throw new UsageError(`${JSON.stringify(plan)} is not a plan: use free or paid`);
      expect(2);
      return { name, organizationGid, plan: plan as Plan };
    }
    case 'show-plan':
      expect(1);
      return { name, organizationGid: gid(operands[0]) };
    case 'list-organizations':
      expect(0);
      return { name };
    case undefined:
      throw new UsageError('Give a command');
    default:
      throw new UsageError(`Unknown command ${name}`);
  }
}

export interface AdminDeps {
  database: Database;
  /** One line of output. */
  out: (line: string) => void;
  clock?: Clock;
  ids?: Ids;
}

/** Runs one command; throws AdminError for an expected failure (exit code 1). */
export async function runCommand(command: AdminCommand, deps: AdminDeps): Promise<void> {
  const db = deps.database.db;
  const clock = deps.clock ?? systemClock;
  const ids = deps.ids ?? cryptoIds;
  const notFound = (gid: string) => new AdminError(`organization ${gid} does not exist (or is deleted)`);
  switch (command.name) {
    case 'set-plan': {
      const change = await db.transaction().execute(async (trx) => {
        const org = await organizations.get(trx, command.organizationGid);
        if (!org) throw notFound(command.organizationGid);
        if (org.plan === command.plan) return { org, changed: false };
        const now = clock.now();
        await organizations.setPlan(trx, org.gid, command.plan, now);
        await recordAudit(trx, { ids, clock }, {
          organizationGid: org.gid,
          type: 'organization_plan_changed',
          category: 'admin_settings',
          actor: { type: 'system' },
          resource: { type: 'workspace', gid: org.gid },
          details: { old_value: org.plan, new_value: command.plan, via: 'admin cli' },
        });
        return { org, changed: true };
      });
      const { org } = change;
      deps.out(change.changed ? `organization ${org.gid} (${org.name}): plan ${org.plan} -> ${command.plan}` : `organization ${org.gid} (${org.name}): plan already ${org.plan}, nothing changed`);
      return;
    }
    case 'show-plan': {
      const org = await organizations.get(db, command.organizationGid);
      if (!org) throw notFound(command.organizationGid);
      deps.out(`organization ${org.gid} (${org.name}): plan ${org.plan}`);
      return;
    }
    case 'list-organizations': {
      const query = db.selectFrom('organizations').select(['gid', 'name', 'plan']).where('deleted_at', 'is', null);
      deps.out('gid\tname\tplan');
      let after: string | null = null;
      do {
        const page: KeysetPage<{ gid: string; name: string; plan: Plan }> = await keysetPage(db, query, { keys: [{ column: 'name' }, { column: 'gid' }], limit: 500, after });
        for (const org of page.rows) deps.out(`${org.gid}\t${org.name.replace(/[\t\r\n]/g, ' ')}\t${org.plan}`);
        after = page.next;
      } while (after);
      return;
    }
  }
}

/** A paused Aurora Serverless cluster answers DatabaseResumingException until it is back. */
const isResuming = (error: unknown) => error instanceof Error && error.name === 'DatabaseResumingException';
export const RESUME_ATTEMPTS = 6;
const RESUME_DELAY_MS = 5000;

/** Runs `action`, again (with growing waits) while the database is resuming. */
export async function whileResuming<T>(action: () => Promise<T>, options: { sleep: (ms: number) => Promise<void>; note: (line: string) => void }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (!isResuming(error) || attempt >= RESUME_ATTEMPTS) throw error;
      options.note(`the database is resuming from a pause; trying again in ${(RESUME_DELAY_MS * attempt) / 1000} s`);
      await options.sleep(RESUME_DELAY_MS * attempt);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export interface MainDeps {
  /** Opens the target (tests hand in their engine); the default opens it for real and closes it after. */
  open?: (target: DatabaseTarget) => Promise<Database>;
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: Env;
  clock?: Clock;
  ids?: Ids;
  /** Between attempts while a paused cluster resumes (tests skip the wait). */
  sleep?: (ms: number) => Promise<void>;
}

/** Explains a failure in one line. */
export function failureMessage(error: unknown): string {
  if (error instanceof AdminError) return error.message;
  if (sqlState(error) === '42P01') return 'the database has no schema yet: run npm run migrate first';
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}

/** Runs the CLI; returns the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: readonly string[], deps: MainDeps = {}): Promise<number> {
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  let target: DatabaseTarget;
  let command: AdminCommand;
  try {
    const parsed = parseDatabaseFlags(argv, deps.env ?? process.env);
    target = parsed.target;
    command = parseCommand(parsed.rest);
  } catch (error) {
    if (error instanceof HelpRequested) {
      out(USAGE);
      return 0;
    }
    if (error instanceof UsageError) {
      err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  let database: Database | undefined;
  try {
    database = await (deps.open ?? openDatabase)(target);
    const open = database;
    await whileResuming(() => runCommand(command, { database: open, out, ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.ids ? { ids: deps.ids } : {}) }), { sleep: deps.sleep ?? sleep, note: err });
    return 0;
  } catch (error) {
    err(`${command.name} failed on the ${describeTarget(target)}: ${failureMessage(error)}`);
    return 1;
  } finally {
    if (database && !deps.open) await database.close();
  }
}

export const isMain = (url: string) => Boolean(process.argv[1]) && url === pathToFileURL(process.argv[1]!).href;

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
