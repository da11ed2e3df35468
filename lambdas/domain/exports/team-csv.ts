/**
 * The team CSV export (an admin export, run by the export worker from a plan): one record
 * per team of the organization, every team that is not deleted, secret ones included.
 *
 * Columns (exactly these, in this order):
 *
 * | column                          | value                                                                   |
 * | ------------------------------- | ----------------------------------------------------------------------- |
 * | Team                            | the team's name (repeated on continuation records)                      |
 * | Member count                    | full + limited-access members (pending invitations not counted)         |
 * | Privacy                         | Asana's team visibility: public, request_to_join or secret              |
 * | Created on                      | YYYY-MM-DD, UTC                                                          |
 * | Created by                      | the creator's email (empty when the creator is gone from the organization) |
 * | Description                     | the plain-text description                                              |
 * | Member (email)                  | full members' emails, joined with ", ", in email order (case-insensitive) |
 * | Limited access member (email)   | limited-access members' emails, likewise                                |
 * | Pending invite (email)          | emails invited to the team and not joined yet, likewise                 |
 *
 * People are the organization's people as an admin sees them (userVisible with an admin
 * viewer: not deleted, still in the organization). A pending invitation is an unused team
 * invitation that had not expired when the export was requested (job.createdAt); an email
 * invited several times is listed once, and not at all once it belongs to a member.
 *
 * Spreadsheet-safe: no cell holds more than 32,767 characters (Excel's limit, counted in
 * UTF-16 units as written, including the single quote csv.ts may put in front). When a
 * team's email lists or description do not fit, they continue on further records of the
 * same team: record k of a team holds the k-th piece of each list and of the
 * description; on continuation records the Team column is repeated and the other
 * single-value columns are empty. Email lists are packed greedily (as many whole emails as
 * fit, never an email split); a description is cut, when it must be, before the limit, at
 * a whitespace boundary when there is one nearby and never inside a surrogate pair or in
 * front of a character a spreadsheet would read as a formula start, so joining the
 * pieces gives back the description. The layout depends only on the data, never on how
 * it was paged.
 *
 * Paging (plan.ts): teams in (name, gid) order, TEAMS_PER_PAGE at a time through
 * keysetPage; for each page of teams one query for the memberships (capped at
 * LARGE_TEAM + 1 people per team and list, carrying the member counts) and one for the
 * pending invitations, plus one for long descriptions when there are any. A team with more
 * than LARGE_TEAM people in a list is written on pages of its own: its lists are read in
 * keyset pages, one cell at a time, and the section's cursor holds where each list
 * stands (team, record index, a cursor per list), so memory stays bounded whatever the
 * team's size and a resumed export continues exactly.
 *
 * Items are CSV records, so the section's count ("teams") is the number of records: the
 * number of teams, plus continuation records when a team needs them.
 */
import { sql, type SelectQueryBuilder } from 'kysely';
import type { TeamVisibility } from '../../db/schema.js';
import { encodeCursor, gidIn, keysetPage, toNumber, type KeysetColumn, type KeysetPage } from '../../db/query.js';
import { userVisible, type Viewer } from '../access/policy.js';
import type { Db } from '../work/common.js';
import { couldStartFormula, csvDocumentStart, csvRecords } from './csv.js';
import { exportFilename } from './delivery.js';
import type { ExportJobContext, ExportPage, ExportPlan } from './plan.js';

export const TEAM_CSV_HEADER = [
  'Team',
  'Member count',
  'Privacy',
  'Created on',
  'Created by',
  'Description',
  'Member (email)',
  'Limited access member (email)',
  'Pending invite (email)',
] as const;

export const TEAM_CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** The most characters a spreadsheet app keeps in a cell (Excel: 32,767). */
export const CELL_LIMIT = 32_767;
/** Between two emails in a cell (emails hold no whitespace, so this is unambiguous). */
export const EMAIL_SEPARATOR = ', ';

/** Paging sizes; they change how the work is split, never the text. Tests make them small. */
export interface TeamCsvTuning {
  /** Teams per page. */
  teamsPerPage: number;
  /** A team with more people than this in a list is written on pages of its own. */
  largeTeam: number;
  /** Records per page while writing a large team. */
  recordsPerPage: number;
  /** Rows per query while reading a large team's list. */
  fetchRows: number;
  /** Description characters read per slice (long descriptions are read in slices: the Data API caps a row at 64 KB). */
  descriptionSlice: number;
}

export const DEFAULT_TEAM_CSV_TUNING: TeamCsvTuning = {
  teamsPerPage: 50,
  largeTeam: 100,
  recordsPerPage: 8,
  fetchRows: 2000,
  descriptionSlice: 8000,
};

type ListKind = 'full' | 'limited' | 'pending';
const LIST_KINDS: readonly ListKind[] = ['full', 'limited', 'pending'];

interface TeamRow {
  gid: string;
  name: string;
  visibility: TeamVisibility;
  created_at: Date | string;
  creator_email: string | null;
  /** The description's first descriptionSlice characters... */
  description_head: string;
  /** ...and whether there is more. */
  description_more: boolean;
}

interface ListRow {
  email: string;
  email_key: string;
  /** Members only (pending invitations are keyed by their email). */
  gid?: string;
}

/** Where one list of a large team stands: the cursor after the last email written. */
interface ListPosition {
  after: string | null;
  done: boolean;
}

/** The section's cursor. Between teams: `t` only. Inside a large team: the rest too. */
interface TeamCursor {
  /** Keyset cursor over teams after the last team written completely (inside a large team: after that team). */
  t: string | null;
  /** The large team being written. */
  g?: string;
  /** Index of its next record. */
  r?: number;
  lists?: Record<ListKind, ListPosition>;
}

// --- Cells -----------------------------------------------------------------------------

/** Characters of a cell as written (csv.ts puts a single quote in front of a possible formula). */
const writtenLength = (text: string) => text.length + (couldStartFormula(text) ? 1 : 0);

/** A cell of emails filled greedily up to CELL_LIMIT. */
class EmailCell {
  #text = '';
  get text(): string {
    return this.#text;
  }
  /** Adds the email when it fits (an empty cell takes any email); false when the cell is full. */
  add(email: string): boolean {
    const next = this.#text === '' ? email : this.#text + EMAIL_SEPARATOR + email;
    if (this.#text !== '' && writtenLength(next) > CELL_LIMIT) return false;
    this.#text = next;
    return true;
  }
}

/** Emails packed into cells (none for an empty list). */
export function packEmails(emails: readonly string[]): string[] {
  const cells: string[] = [];
  let cell = new EmailCell();
  for (const email of emails) {
    if (!cell.add(email)) {
      cells.push(cell.text);
      cell = new EmailCell();
      cell.add(email);
    }
  }
  if (cell.text !== '') cells.push(cell.text);
  return cells;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
/** Characters looked back over for a nicer place to cut a long description. */
const CUT_SEARCH = 1000;

/**
 * Text cut into cells of at most CELL_LIMIT characters as written (one cell for short or
 * empty text). Joining the pieces gives the text back (unless a piece has to start with a
 * formula character, which only happens when no cut nearby avoids it).
 */
export function splitText(text: string): string[] {
  if (writtenLength(text) <= CELL_LIMIT) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    const budget = couldStartFormula(text.slice(start, start + 1)) ? CELL_LIMIT - 1 : CELL_LIMIT;
    let end = Math.min(text.length, start + budget);
    if (end < text.length) {
      const acceptable = (at: number) => at > start && !isHighSurrogate(text.charCodeAt(at - 1)) && !couldStartFormula(text[at]!);
      const floor = Math.max(start + 1, end - CUT_SEARCH);
      let cut = -1;
      // After whitespace first, then anywhere that neither splits a character nor starts the next piece with a formula character.
      for (let at = end; at >= floor && cut < 0; at--) if (acceptable(at) && /\s/u.test(text[at - 1]!)) cut = at;
      for (let at = end; at >= floor && cut < 0; at--) if (acceptable(at)) cut = at;
      if (cut < 0) cut = isHighSurrogate(text.charCodeAt(end - 1)) ? end - 1 : end;
      end = cut;
    }
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

// --- Cursor ----------------------------------------------------------------------------

function encodeState(state: TeamCursor): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

function decodeState(cursor: string | null): TeamCursor {
  if (cursor === null) return { t: null };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new Error('team CSV export: unreadable cursor');
  }
  const state = value as TeamCursor;
  const position = (p: unknown) => typeof p === 'object' && p !== null && ((p as ListPosition).after === null || typeof (p as ListPosition).after === 'string') && typeof (p as ListPosition).done === 'boolean';
  const valid =
    typeof value === 'object' &&
    value !== null &&
    (state.t === null || typeof state.t === 'string') &&
    (state.g === undefined || (typeof state.g === 'string' && Number.isInteger(state.r) && state.r! >= 0 && typeof state.lists === 'object' && state.lists !== null && LIST_KINDS.every((k) => position(state.lists![k]))));
  if (!valid) throw new Error('team CSV export: unreadable cursor');
  return state;
}

const TEAM_KEYS: KeysetColumn[] = [{ column: 'name' }, { column: 'gid' }];
/** The keyset cursor just after a team, as keysetPage makes it. */
const cursorAfterTeam = (team: { name: string; gid: string }) => encodeCursor([team.name, team.gid]);

const MEMBER_KEYS: KeysetColumn[] = [{ column: 'email_key' }, { column: 'gid' }];
/** Pending invitations are grouped by email, so the email is their key. */
const PENDING_KEYS: KeysetColumn[] = [{ column: 'email_key' }];

const dayOf = (value: Date | string) => (value instanceof Date ? value : new Date(value)).toISOString().slice(0, 10);

// --- The plan --------------------------------------------------------------------------

/** The team CSV export of the job's organization. */
export async function buildTeamCsvExport(db: Db, job: ExportJobContext, tuning: Partial<TeamCsvTuning> = {}): Promise<ExportPlan> {
  const tune: TeamCsvTuning = { ...DEFAULT_TEAM_CSV_TUNING, ...tuning };
  const organization = await db.selectFrom('organizations').select(['gid', 'name']).where('gid', '=', job.organizationGid).executeTakeFirst();
  if (!organization) throw new Error(`team CSV export ${job.gid}: organization ${job.organizationGid} not found`);
  // The people of the organization as an admin sees them (the viewer's user gid plays no part for admins).
  const admin: Viewer = { userGid: job.requestedBy.gid, organizationGid: organization.gid, role: 'super_admin' };

  // --- Queries ---

  const teamQuery = () =>
    db
      .selectFrom('teams as t')
      .leftJoin('users as c', (j) => j.onRef('c.gid', '=', 't.created_by').on(userVisible(admin, 'c')))
      .select([
        't.gid',
        't.name',
        't.visibility',
        't.created_at',
        'c.email as creator_email',
        sql<string>`left(t.description, ${sql.lit(tune.descriptionSlice)})`.as('description_head'),
        sql<boolean>`length(t.description) > ${sql.lit(tune.descriptionSlice)}`.as('description_more'),
      ])
      .where('t.organization_gid', '=', organization.gid)
      .where('t.deleted_at', 'is', null);

  /** Memberships of some teams (of one list when `kind` is given), with the email as the sort key. */
  const membershipQuery = (teamGids: string[], kind?: 'full' | 'limited') => {
    const query = db
      .selectFrom('team_memberships as tm')
      .innerJoin('users as u', 'u.gid', 'tm.user_gid')
      .select(['tm.team_gid', 'tm.is_limited_access as limited', 'u.gid', 'u.email', sql<string>`lower(u.email)`.as('email_key')])
      .where(gidIn('tm.team_gid', teamGids))
      .where(userVisible(admin, 'u'));
    return kind ? query.where('tm.is_limited_access', '=', kind === 'limited') : query;
  };

  /** Pending invitations of some teams, one row per team and email (compared in lower case). */
  const pendingQuery = (teamGids: string[]) =>
    db
      .selectFrom('one_time_tokens as ot')
      .select([sql<string>`ot.team_gid`.as('team_gid'), sql<string>`lower(ot.email)`.as('email_key'), sql<string>`min(ot.email)`.as('email')])
      .where('ot.purpose', '=', 'invitation')
      .where('ot.organization_gid', '=', organization.gid)
      .where(gidIn('ot.team_gid', teamGids))
      .where('ot.email', 'is not', null)
      .where('ot.used_at', 'is', null)
      .where('ot.expires_at', '>', job.createdAt)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('team_memberships as x')
              .innerJoin('users as xu', 'xu.gid', 'x.user_gid')
              .select('x.gid')
              .whereRef('x.team_gid', '=', 'ot.team_gid')
              .where(sql<boolean>`lower(xu.email) = lower(ot.email)`)
              .where(userVisible(admin, 'xu')),
          ),
        ),
      )
      .groupBy([sql`ot.team_gid`, sql`lower(ot.email)`]);

  /** Every row of a query, a keyset page at a time. */
  async function everyRow<Row extends object>(query: SelectQueryBuilder<any, any, Row>, keys: KeysetColumn[]): Promise<Row[]> {
    const rows: Row[] = [];
    let after: string | null = null;
    do {
      const page: KeysetPage<Row> = await keysetPage(db, query, { keys, limit: tune.fetchRows, after });
      rows.push(...page.rows);
      after = page.next;
    } while (after);
    return rows;
  }

  /**
   * The teams' descriptions: the head read with the team, and for longer ones the rest in
   * slices (one query for all of them; characters, so a slice never splits one).
   */
  async function descriptions(teams: TeamRow[]): Promise<Map<string, string>> {
    const result = new Map(teams.map((t) => [t.gid, t.description_head]));
    const long = teams.filter((t) => t.description_more).map((t) => t.gid);
    if (!long.length) return result;
    const size = sql.lit(tune.descriptionSlice);
    const slices = db
      .selectFrom(
        sql<{ gid: string; i: number; part: string }>`(
          select t.gid, s.i, substr(t.description, s.i * ${size} + 1, ${size}) as part
          from teams t cross join generate_series(1, (length(t.description) - 1) / ${size}) as s(i)
          where t.gid in (${sql.join(long)}))`.as('slices'),
      )
      .selectAll();
    for (const row of await everyRow(slices, [{ column: 'gid' }, { column: 'i' }])) result.set(row.gid, result.get(row.gid)! + row.part);
    return result;
  }

  // --- Records ---

  function firstRecord(team: TeamRow, memberCount: number): (string | null)[] {
    return [team.name, String(memberCount), team.visibility, dayOf(team.created_at), team.creator_email ?? ''];
  }
  const continuationRecord = (team: TeamRow): (string | null)[] => [team.name, '', '', '', ''];

  /** The records of a team whose lists are all loaded. */
  function teamRecords(team: TeamRow, memberCount: number, description: string, lists: Record<ListKind, string[]>): string[] {
    const descriptionCells = splitText(description);
    const cells = LIST_KINDS.map((k) => packEmails(lists[k]));
    const count = Math.max(1, descriptionCells.length, ...cells.map((c) => c.length));
    const records: string[] = [];
    for (let r = 0; r < count; r++) {
      const head = r === 0 ? firstRecord(team, memberCount) : continuationRecord(team);
      records.push(csvRecords([[...head, descriptionCells[r] ?? '', ...cells.map((c) => c[r] ?? '')]]));
    }
    return records;
  }

  /** A page of whole teams after `after`, stopping before a large team (or starting one). */
  async function teamsPage(after: string | null): Promise<ExportPage> {
    const teams = await keysetPage(db, teamQuery(), { keys: TEAM_KEYS, limit: tune.teamsPerPage, after });
    if (!teams.rows.length) return { items: [], next: null };
    const gids = teams.rows.map((t) => t.gid);
    const cap = tune.largeTeam + 1;
    // At most cap people per team and list (enough to tell a large team), with each team's member count.
    const rankedMembers = membershipQuery(gids).select([
      sql<number>`row_number() over (partition by tm.team_gid, tm.is_limited_access order by lower(u.email), u.gid)`.as('rank'),
      sql<number>`count(*) over (partition by tm.team_gid)`.as('member_count'),
    ]);
    const members = await everyRow(db.selectFrom(rankedMembers.as('r')).selectAll().where('r.rank', '<=', cap), [{ column: 'team_gid' }, { column: 'limited' }, ...MEMBER_KEYS]);
    const rankedPending = pendingQuery(gids).select(sql<number>`row_number() over (partition by ot.team_gid order by lower(ot.email))`.as('rank'));
    const pending = await everyRow(db.selectFrom(rankedPending.as('r')).selectAll().where('r.rank', '<=', cap), [{ column: 'team_gid' }, ...PENDING_KEYS]);
    const texts = await descriptions(teams.rows);
    const lists = new Map(gids.map((g) => [g, { full: [] as string[], limited: [] as string[], pending: [] as string[] }]));
    const counts = new Map<string, number>();
    for (const m of members) {
      lists.get(m.team_gid)![m.limited ? 'limited' : 'full'].push(m.email);
      counts.set(m.team_gid, toNumber(m.member_count));
    }
    for (const p of pending) lists.get(p.team_gid)!.pending.push(p.email);

    const items: string[] = [];
    let last: TeamRow | undefined;
    for (const team of teams.rows) {
      const teamLists = lists.get(team.gid)!;
      if (LIST_KINDS.some((k) => teamLists[k].length > tune.largeTeam)) {
        // A large team gets pages of its own: end this page before it, or start it.
        if (last) return { items, next: encodeState({ t: cursorAfterTeam(last) }) };
        const start = { done: false, after: null };
        return largeTeamPage({ t: cursorAfterTeam(team), g: team.gid, r: 0, lists: { full: { ...start }, limited: { ...start }, pending: { ...start } } });
      }
      items.push(...teamRecords(team, counts.get(team.gid) ?? 0, texts.get(team.gid)!, teamLists));
      last = team;
    }
    return { items, next: teams.next ? encodeState({ t: teams.next }) : null };
  }

  /** Fills one cell of a large team's list from where it stands. */
  async function fillCell(teamGid: string, kind: ListKind, position: ListPosition): Promise<{ text: string; position: ListPosition }> {
    const cell = new EmailCell();
    if (position.done) return { text: '', position };
    const keys = kind === 'pending' ? PENDING_KEYS : MEMBER_KEYS;
    const query: SelectQueryBuilder<any, any, ListRow> = kind === 'pending' ? pendingQuery([teamGid]) : membershipQuery([teamGid], kind);
    let after = position.after;
    for (;;) {
      const page: KeysetPage<ListRow> = await keysetPage(db, query, { keys, limit: tune.fetchRows, after });
      let taken = 0;
      for (const row of page.rows) {
        if (!cell.add(row.email)) break;
        taken += 1;
        after = encodeCursor(keys.map((k) => row[k.column as keyof ListRow] ?? null));
      }
      if (taken < page.rows.length) return { text: cell.text, position: { after, done: false } };
      if (page.next === null) return { text: cell.text, position: { after, done: true } };
    }
  }

  /** Records of a large team from where the cursor stands, a few per page. */
  async function largeTeamPage(state: TeamCursor): Promise<ExportPage> {
    const gid = state.g!;
    const team = await teamQuery().where('t.gid', '=', gid).executeTakeFirst();
    // Deleted since the export started: the rest of it is not written.
    if (!team) return { items: [], next: encodeState({ t: state.t }) };
    const descriptionCells = splitText((await descriptions([team])).get(gid)!);
    let memberCount = 0;
    if (state.r === 0) {
      const row = await db
        .selectFrom('team_memberships as tm')
        .innerJoin('users as u', 'u.gid', 'tm.user_gid')
        .select(sql<number>`count(*)`.as('n'))
        .where('tm.team_gid', '=', gid)
        .where(userVisible(admin, 'u'))
        .executeTakeFirst();
      memberCount = toNumber(row?.n);
    }
    const lists = { ...state.lists! };
    let r = state.r!;
    const items: string[] = [];
    while (items.length < tune.recordsPerPage) {
      const cells: string[] = [];
      for (const kind of LIST_KINDS) {
        const filled = await fillCell(gid, kind, lists[kind]);
        cells.push(filled.text);
        lists[kind] = filled.position;
      }
      const head = r === 0 ? firstRecord(team, memberCount) : continuationRecord(team);
      items.push(csvRecords([[...head, descriptionCells[r] ?? '', ...cells]]));
      r += 1;
      if (LIST_KINDS.every((k) => lists[k].done) && r >= descriptionCells.length) return { items, next: encodeState({ t: state.t }) };
    }
    return { items, next: encodeState({ t: state.t, g: gid, r, lists }) };
  }

  return {
    contentType: TEAM_CSV_CONTENT_TYPE,
    filename: exportFilename(`${organization.name} teams ${job.createdAt.toISOString().slice(0, 10)}`, 'csv'),
    gzip: false,
    prologue: csvDocumentStart(TEAM_CSV_HEADER),
    sections: [
      {
        name: 'teams',
        open: '',
        close: '',
        separator: '',
        async page(after) {
          const state = decodeState(after);
          return state.g === undefined ? teamsPage(state.t) : largeTeamPage(state);
        },
      },
    ],
    epilogue: '',
  };
}
