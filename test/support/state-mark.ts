/**
 * Marks of the database's state and what changed since: row counts of every table (or of
 * the tables given), and the rows written since the mark (by xmin). The bad-input and
 * authorization suites assert that a refused request changed nothing.
 */
import { sql } from 'kysely';
import type { IdentityHarness } from './identity.js';

/**
 * Bookkeeping that authentication itself writes (last_used_at) is not a change of state:
 * for these tables a digest of the columns that matter replaces the written-rows check.
 */
const DIGESTS: Record<string, ReturnType<typeof sql>> = {
  sessions: sql`gid || ':' || coalesce(revoked_at::text, '')`,
  service_accounts: sql`gid || ':' || coalesce(revoked_at::text, '') || ':' || name || ':' || scopes`,
};

export interface StateMark {
  xid: number;
  tables: readonly string[];
  counts: Record<string, string>;
}

let tableNames: string[] | undefined;

async function allTables(h: IdentityHarness): Promise<string[]> {
  tableNames ??= (await sql<{ t: string }>`select tablename as t from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations' order by tablename`.execute(h.engine.db)).rows.map((r) => r.t);
  return tableNames;
}

/** Row counts (and digests) of every table, or of `only`, and the transaction id they were taken at. */
export async function stateMark(h: IdentityHarness, only?: readonly string[]): Promise<StateMark> {
  const xid = Number((await sql<{ x: string }>`select txid_current()::text as x`.execute(h.engine.db)).rows[0]!.x);
  const tables = only ?? (await allTables(h));
  return { xid, tables, counts: await tableStates(h, tables, 0) };
}

/** Per table: its row count (and digest), and the rows written by transactions since `since` (as `table+`). */
async function tableStates(h: IdentityHarness, tables: readonly string[], since: number): Promise<Record<string, string>> {
  const parts = tables.map((t) => {
    const digest = DIGESTS[t];
    return digest
      ? sql`select ${t} as t, count(*)::int as n, 0 as fresh, coalesce(md5(string_agg(${digest}, ',' order by gid)), '') as digest from ${sql.table(t)}`
      : sql`select ${t} as t, count(*)::int as n, count(*) filter (where xmin::text::bigint >= ${since})::int as fresh, '' as digest from ${sql.table(t)}`;
  });
  const rows = (await sql<{ t: string; n: number; fresh: number; digest: string }>`${sql.join(parts, sql` union all `)}`.execute(h.engine.db)).rows;
  const out: Record<string, string> = {};
  for (const r of rows) {
    out[r.t] = `${r.n} rows${r.digest ? ` (${r.digest.slice(0, 8)})` : ''}`;
    if (since > 0 && Number(r.fresh) > 0) out[`${r.t}+`] = String(r.fresh);
  }
  return out;
}

/** What changed in the mark's tables since the mark: row counts and rows written (empty when nothing did). */
export async function stateChanges(h: IdentityHarness, mark: StateMark): Promise<string[]> {
  // Transaction ids are assigned on first write: if the next one follows the mark's, nothing wrote since.
  const xid = Number((await sql<{ x: string }>`select txid_current()::text as x`.execute(h.engine.db)).rows[0]!.x);
  if (xid === mark.xid + 1) return [];
  const now = await tableStates(h, mark.tables, mark.xid);
  const changes: string[] = [];
  for (const t of mark.tables) {
    if (now[t] !== mark.counts[t]) changes.push(`${t}: ${mark.counts[t]} -> ${now[t]}`);
    if (now[`${t}+`]) changes.push(`${t}: ${now[`${t}+`]} rows written`);
  }
  return changes;
}
