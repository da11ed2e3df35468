/**
 * Query helpers: the one place that knows how values cross the three engines and the
 * Data API's limits (typed parameters, 1 MiB responses).
 */
import { ReferenceNode, SelectAllNode, SelectQueryNode, sql, type QueryExecutorProvider, type RawBuilder, type SelectQueryBuilder } from 'kysely';

/** A jsonb value. The Data API cannot bind objects; a string cast to jsonb works everywhere. */
export function json<T>(value: T): RawBuilder<T> {
  return sql<T>`cast(${JSON.stringify(value)} as jsonb)`;
}

/**
 * `column = any(gids)` with the list bound as one text parameter (comma-separated), not
 * one parameter per gid: an export page names up to 1,000 gids in a statement, which as
 * separate parameters cost more to encode, send and bind than the rows they select (the
 * Data API binds no arrays, so the list travels as text). Gids are digits; one holding a
 * comma would split, so it is refused.
 */
export function gidIn(column: string, gids: readonly string[]): RawBuilder<boolean> {
  for (const gid of gids) if (gid.includes(',')) throw new Error(`gidIn: not a gid: ${JSON.stringify(gid)}`);
  return sql<boolean>`${sql.ref(column)} = any(string_to_array(${gids.join(',')}, ','))`;
}

/** A calendar date ('YYYY-MM-DD') bound as a date on every engine. */
export function dateValue(day: string): RawBuilder<string> {
  return sql<string>`cast(${day} as date)`;
}

/** Normalizes a date column as read by any engine (string or Date at UTC midnight) to 'YYYY-MM-DD'. */
export function dateOnly(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}

/** count(*) and int8 come back as string (node-postgres), number (PGlite) or long (Data API). */
export function toNumber(value: string | number | bigint | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}

/** The SQLSTATE of a database error from any engine (the Data API puts it in the message). */
export function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  return /SQLState: ([0-9A-Z]{5})/.exec(error.message)?.[1];
}

export const isUniqueViolation = (error: unknown) => sqlState(error) === '23505';
export const isForeignKeyViolation = (error: unknown) => sqlState(error) === '23503';

// ---------------------------------------------------------------------------------
// Keyset pagination

/**
 * The most a page may weigh. The Data API refuses responses over 1 MiB; its JSON
 * encoding wraps every value ({"stringValue": ...}), so pages are sized against a
 * budget well below the limit, measured in the database before anything is sent.
 */
export const PAGE_BYTE_BUDGET = 768 * 1024;
/** Data API encoding overhead per column and value, on top of the value's JSON text. */
const PER_COLUMN_OVERHEAD = 24;

export interface KeysetColumn {
  /** Column name as it appears in the query's select list. */
  column: string;
  direction?: 'asc' | 'desc';
}

export interface KeysetPageOptions {
  /** Sort keys; the last one must be unique (use gid). */
  keys: KeysetColumn[];
  limit: number;
  /** Opaque cursor from a previous page's `next`. */
  after?: string | null;
  byteBudget?: number;
}

export interface KeysetPage<Row> {
  rows: Row[];
  /** Cursor for the following page, or null on the last page. */
  next: string | null;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('The pagination offset is not valid; use next_page.offset from a previous response');
  }
}

/** A key value in a cursor; timestamps are tagged so they are bound as timestamps again. */
type CursorValue = string | number | boolean | null | { ts: string };

export function encodeCursor(values: CursorValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

const isCursorValue = (v: unknown): v is CursorValue =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  // Keys are counts, positions and ids: never beyond what the database's bigint or a JS number holds exactly.
  (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) ||
  (typeof v === 'object' && Object.keys(v as object).length === 1 && typeof (v as { ts?: unknown }).ts === 'string' && !Number.isNaN(Date.parse((v as { ts: string }).ts)));

/** Decodes a cursor made by encodeCursor for `length` keys; anything else is an InvalidCursorError. */
export function decodeCursor(cursor: string, length: number): CursorValue[] {
  let values: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw new InvalidCursorError();
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(values) || values.length !== length || !values.every(isCursorValue)) throw new InvalidCursorError();
  return values;
}

function toCursorValue(value: unknown): CursorValue {
  if (value instanceof Date) return { ts: value.toISOString() };
  if (typeof value === 'bigint') return value.toString();
  return value as CursorValue;
}

/** The cursor that continues a keyset list after `row` (a row of a keysetPage with these keys). */
export function cursorAfter(row: object, keys: KeysetColumn[]): string {
  return encodeCursor(keys.map((k) => toCursorValue((row as Record<string, unknown>)[k.column])));
}

function bindCursorValue(value: CursorValue): RawBuilder<unknown> {
  return value !== null && typeof value === 'object' ? sql`cast(${value.ts} as timestamptz)` : sql`${value}`;
}

const direction = (k: KeysetColumn) => sql.raw(k.direction === 'desc' ? 'desc' : 'asc');
const orderBy = (alias: string, keys: KeysetColumn[]) => sql.join(keys.map((k) => sql`${sql.ref(`${alias}.${k.column}`)} ${direction(k)}`));

/**
 * (k1, k2, ...) strictly after (v1, v2, ...) in key order. When every key runs the same
 * way this is one row comparison, (k1, k2) > (v1, v2), which PostgreSQL turns into an
 * index range (a page costs the same at the end of a large table as at its start); mixed
 * directions spell the comparison out (same meaning, including NULLs).
 */
function afterPredicate(keys: KeysetColumn[], values: CursorValue[]): RawBuilder<boolean> {
  const uniform = keys.every((k) => (k.direction ?? 'asc') === (keys[0]!.direction ?? 'asc'));
  if (uniform && keys.length > 1) {
    const refs = sql.join(keys.map((k) => sql.ref(`page_source.${k.column}`)));
    const bounds = sql.join(values.map((v) => bindCursorValue(v ?? null)));
    return sql<boolean>`(${refs}) ${sql.raw(keys[0]!.direction === 'desc' ? '<' : '>')} (${bounds})`;
  }
  return spelledOutAfter(keys, values);
}

function spelledOutAfter(keys: KeysetColumn[], values: CursorValue[]): RawBuilder<boolean> {
  const [key, ...restKeys] = keys;
  const [value, ...restValues] = values;
  const ref = sql.ref(`page_source.${key!.column}`);
  const bound = bindCursorValue(value ?? null);
  const op = sql.raw(key!.direction === 'desc' ? '<' : '>');
  if (restKeys.length === 0) return sql<boolean>`${ref} ${op} ${bound}`;
  return sql<boolean>`(${ref} ${op} ${bound} or (${ref} = ${bound} and ${spelledOutAfter(restKeys, restValues)}))`;
}

/**
 * A cursor is a well-formed token of values, but nothing binds it to the list it came
 * from: values of another list (or crafted ones) may not fit this list's key columns,
 * and the database refuses them with a data exception (class 22: invalid datetime,
 * invalid text representation...), a type mismatch (42804, 42883), or PGlite's own
 * "Invalid input" when it serializes the bound value. Only the cursor is unvalidated
 * input in a page query, so such an error there is a bad offset: 400, not 500.
 */
async function cursorChecked<T>(hasCursor: boolean, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const state = sqlState(error) ?? '';
    const cursorMisfit = state.startsWith('22') || state === '42804' || state === '42883' || (error instanceof Error && /^Invalid input for /i.test(error.message));
    if (hasCursor && cursorMisfit) throw new InvalidCursorError();
    throw error;
  }
}

/**
 * The number of columns a query selects when its select list names them all (no `*`):
 * the Data API's per-column overhead is then a constant, not counted row by row.
 */
function selectionCount(query: SelectQueryBuilder<any, any, any>): number | null {
  const node = query.toOperationNode();
  if (!SelectQueryNode.is(node) || !node.selections?.length) return null;
  for (const { selection } of node.selections) {
    if (SelectAllNode.is(selection) || (ReferenceNode.is(selection) && SelectAllNode.is(selection.column))) return null;
  }
  return node.selections.length;
}

/**
 * One page of `query` in key order after the cursor: at most `limit` rows and at most
 * `byteBudget` bytes as the Data API would encode them (always at least one row; the
 * Data API caps a row at 64 KB). The byte accounting runs in the database as a running
 * sum over the candidate rows, so an oversized page is never sent. Rows come back
 * without the helper's bookkeeping columns. `db` is the Kysely instance or transaction
 * to run on.
 */
export async function keysetPage<Row extends object>(
  db: QueryExecutorProvider,
  query: SelectQueryBuilder<any, any, Row>,
  options: KeysetPageOptions,
): Promise<KeysetPage<Row>> {
  const { keys, limit } = options;
  if (keys.length === 0) throw new Error('keysetPage needs at least one key');
  if (!Number.isInteger(limit) || limit < 1) throw new Error('keysetPage needs a positive integer limit');
  const budget = options.byteBudget ?? PAGE_BYTE_BUDGET;
  const after = options.after ? decodeCursor(options.after, keys.length) : null;
  const order = orderBy('page_source', keys);
  // One row beyond the limit is fetched to learn whether another page follows. The
  // candidates are a subquery with a LIMIT, which PostgreSQL never flattens into the
  // levels above: each row's expressions (subqueries in the select list) are computed
  // once, and the sizing reads the computed row. Sizing `page_source` itself would
  // re-evaluate them for every reference.
  const columns = selectionCount(query);
  const overhead = columns === null ? sql`${sql.lit(PER_COLUMN_OVERHEAD)} * (select count(*) from json_object_keys(row_to_json(candidates)))` : sql.lit(PER_COLUMN_OVERHEAD * columns);
  // One window over the candidates in key order gives each row its running byte total,
  // its position, and whether another candidate follows it (for the page's last row:
  // whether there is more to read).
  const { rows } = await cursorChecked(after !== null, () => sql<Row & { _page_bytes: number; _page_row: number; _page_more: boolean }>`
    select sized.* from (
      select candidates.*,
        sum(octet_length(row_to_json(candidates)::text) + ${overhead}) over page_window as _page_bytes,
        row_number() over page_window as _page_row,
        lead(true, 1, false) over page_window as _page_more
      from (
        select page_source.* from (${query}) as page_source
        ${after ? sql`where ${afterPredicate(keys, after)}` : sql``}
        order by ${order}
        limit ${sql.lit(limit + 1)}
      ) as candidates
      window page_window as (order by ${orderBy('candidates', keys)} rows between unbounded preceding and current row)
    ) as sized
    where sized._page_row = 1 or sized._page_bytes <= ${sql.lit(budget)}
    order by ${orderBy('sized', keys)}`.execute(db));
  const kept = rows.slice(0, limit);
  const more = rows.length > limit || Boolean(kept.at(-1)?._page_more);
  const pageRows = kept.map((r) => {
    const { _page_bytes, _page_row, _page_more, ...row } = r;
    return row as unknown as Row;
  });
  const last = pageRows.at(-1);
  return { rows: pageRows, next: more && last ? cursorAfter(last, keys) : null };
}

// ---------------------------------------------------------------------------------
// Large jsonb values

/** Characters per slice: at most 4 bytes each in UTF-8, far below the Data API's 64 KB per row. */
const JSON_SLICE_CHARS = 8000;
/** Slices per statement: 16 x 32 KB stays below the Data API's 1 MiB per response. */
const SLICES_PER_QUERY = 16;

/**
 * Reads a jsonb value of any size: its text is fetched in slices, one row each, so a
 * large document (a template's snapshot) never trips the Data API's 64 KB row or 1 MiB
 * response limits. Undefined when no row matches.
 */
export async function readLargeJson(db: QueryExecutorProvider, table: string, column: string, keyColumn: string, key: string): Promise<unknown> {
  const source = sql`(select ${sql.ref(column)}::text as doc from ${sql.table(table)} where ${sql.ref(keyColumn)} = ${key})`;
  const head = await sql<{ n: number | string }>`select length(x.doc) as n from ${source} as x`.execute(db);
  if (!head.rows.length) return undefined;
  const slices = Math.ceil(toNumber(head.rows[0]!.n) / JSON_SLICE_CHARS);
  let text = '';
  for (let first = 0; first < slices; first += SLICES_PER_QUERY) {
    const last = Math.min(slices, first + SLICES_PER_QUERY) - 1;
    const { rows } = await sql<{ i: number; part: string }>`
      select s.i, substr(x.doc, s.i * ${sql.lit(JSON_SLICE_CHARS)} + 1, ${sql.lit(JSON_SLICE_CHARS)}) as part
      from ${source} as x cross join generate_series(${sql.lit(first)}, ${sql.lit(last)}) as s(i)
      order by s.i`.execute(db);
    text += rows.map((r) => r.part).join('');
  }
  return JSON.parse(text);
}
