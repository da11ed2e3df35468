/**
 * The team CSV export plan: the rendered document parsed with a real CSV parser (header,
 * one record per team, counts, privacy, full vs limited vs pending people, deleted teams
 * and other organizations absent, formula injection neutralized), spreadsheet-safe cells
 * (a team too large for one record continues on further records with every email exactly
 * once and no cell over 32,767 characters), the same text whatever the paging sizes and on
 * the Data API stand-in, and resumption at every checkpoint giving the identical text.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { parse } from 'csv-parse/sync';
import { CELL_LIMIT, buildTeamCsvExport, packEmails, splitText, TEAM_CSV_HEADER, type TeamCsvTuning } from '../../lambdas/domain/exports/team-csv.js';
import { renderPlan, renderPlanToString, type ExportJobContext, type ExportPosition } from '../../lambdas/domain/exports/plan.js';
import type { Db } from '../../lambdas/domain/work/common.js';
import { openEngine, type TestEngine } from '../support/engines.js';

const ORG = '7100000000000001';
const OTHER_ORG = '7100000000000002';
const EMPTY_ORG = '7100000000000003';
const T = {
  alpha: '7200000000000001',
  secret: '7200000000000002',
  deleted: '7200000000000003',
  formula: '7200000000000004',
  big: '7200000000000005',
  longText: '7200000000000006',
  empty: '7200000000000007',
  other: '7200000000000008',
};
const U = {
  alice: '7300000000000001',
  bob: '7300000000000002',
  carol: '7300000000000003',
  dave: '7300000000000004', // deleted user
  eve: '7300000000000005', // removed from the organization
  mallory: '7300000000000006', // an email a spreadsheet would read as a formula
};
const EMAIL = {
  alice: 'alice@acme.example',
  bob: 'Bob@acme.example',
  carol: 'carol@acme.example',
  dave: 'dave@acme.example',
  eve: 'eve@acme.example',
  mallory: '=mallory@acme.example',
};
const BIG_FULL = 2500;
const BIG_LIMITED = 1200;
const BIG_PENDING = 900;
const bigEmail = (i: number) => `member-${String(i).padStart(5, '0')}-abcdefghijklmnopqrst@big.example.com`;
const inviteeEmail = (i: number) => `invitee-${String(i).padStart(5, '0')}-abcdefghijklmnopqrst@pending.example.com`;
/** Words (so the cut has whitespace to choose) over twice the cell limit. */
const LONG_DESCRIPTION = Array.from({ length: 9000 }, (_, i) => `word${i}`).join(' ') + ' 🎉'.repeat(500);

const CREATED = new Date('2024-03-05T23:59:30Z');
const JOB: ExportJobContext = {
  gid: '7900000000000001',
  organizationGid: ORG,
  createdAt: new Date('2025-06-01T12:00:00Z'),
  modifiedSince: null,
  requestedBy: { kind: 'user', gid: U.alice },
  baseUrl: 'https://tasks.example.test',
};
const VALID_UNTIL = new Date('2025-06-08T12:00:00Z');

/** Small sizes: many pages, large-team paging for small teams, several fetches per cell, descriptions in slices. */
const SMALL: Partial<TeamCsvTuning> = { teamsPerPage: 2, largeTeam: 2, recordsPerPage: 1, fetchRows: 700, descriptionSlice: 1000 };

async function seed(db: Db) {
  const now = new Date('2024-01-01T00:00:00Z');
  await db.insertInto('organizations').values([
    { gid: ORG, name: 'Acme: Ops/Team', plan: 'free', created_at: now, modified_at: now },
    { gid: OTHER_ORG, name: 'Other', plan: 'free', created_at: now, modified_at: now },
    { gid: EMPTY_ORG, name: 'Empty org', plan: 'paid', created_at: now, modified_at: now },
  ]).execute();
  await db.insertInto('users').values(Object.entries(U).map(([k, gid]) => ({ gid, email: EMAIL[k as keyof typeof EMAIL], name: k, created_at: now, modified_at: now, deleted_at: k === 'dave' ? now : null }))).execute();
  await db.insertInto('organization_memberships').values(Object.values(U).map((gid, i) => ({ gid: `74000000000000${10 + i}`, organization_gid: ORG, user_gid: gid, role: 'member' as const, created_at: now, removed_at: gid === U.eve ? now : null }))).execute();
  const team = (gid: string, name: string, visibility: 'public' | 'request_to_join' | 'secret', extra: { org?: string; description?: string; deleted?: boolean; createdBy?: string | null } = {}) => ({
    gid,
    organization_gid: extra.org ?? ORG,
    name,
    description: extra.description ?? '',
    visibility,
    created_by: extra.createdBy === undefined ? U.alice : extra.createdBy,
    created_at: CREATED,
    modified_at: CREATED,
    deleted_at: extra.deleted ? now : null,
  });
  await db.insertInto('teams').values([
    team(T.alpha, 'Alpha', 'public', { description: 'The alpha team, "first", with commas, and\nlines' }),
    team(T.secret, 'Secret', 'secret', { createdBy: U.dave }),
    team(T.deleted, 'Deleted', 'public', { deleted: true }),
    team(T.formula, '=SUM(1+1)', 'request_to_join', { description: '-2+3', createdBy: U.mallory }),
    team(T.big, 'Big', 'request_to_join', { createdBy: null }),
    team(T.longText, 'Long text', 'public', { description: LONG_DESCRIPTION }),
    team(T.empty, 'Empty', 'secret', { createdBy: U.eve }),
    team(T.other, 'Other team', 'public', { org: OTHER_ORG }),
  ]).execute();
  let n = 0;
  const member = (teamGid: string, userGid: string, limited = false) => ({ gid: `75${String(++n).padStart(14, '0')}`, team_gid: teamGid, user_gid: userGid, is_limited_access: limited, created_at: now });
  await db.insertInto('team_memberships').values([
    member(T.alpha, U.alice),
    member(T.alpha, U.bob, true),
    member(T.alpha, U.carol),
    member(T.alpha, U.dave),
    member(T.alpha, U.eve),
    member(T.secret, U.alice),
    member(T.secret, U.bob),
    member(T.secret, U.carol, true),
    member(T.secret, U.mallory),
    member(T.deleted, U.alice),
    member(T.formula, U.mallory),
    member(T.other, U.alice),
  ]).execute();
  const invite = (hash: string, teamGid: string, email: string, extra: { expires?: Date; used?: Date } = {}) => ({
    token_hash: hash,
    purpose: 'invitation' as const,
    organization_gid: teamGid === T.other ? OTHER_ORG : ORG,
    email,
    role: 'member' as const,
    team_gid: teamGid,
    created_by: U.alice,
    created_at: now,
    expires_at: extra.expires ?? VALID_UNTIL,
    used_at: extra.used ?? null,
  });
  await db.insertInto('one_time_tokens').values([
    invite('h1', T.alpha, 'pending@elsewhere.example'),
    invite('h2', T.alpha, 'PENDING@elsewhere.example'), // the same person invited twice
    invite('h3', T.alpha, 'expired@elsewhere.example', { expires: new Date('2025-05-31T00:00:00Z') }),
    invite('h4', T.alpha, 'used@elsewhere.example', { used: now }),
    invite('h5', T.alpha, EMAIL.carol), // already a member
    invite('h6', T.other, 'other@elsewhere.example'),
  ]).execute();
  // The big team, in bulk.
  const total = BIG_FULL + BIG_LIMITED;
  await sql`insert into users (gid, email, name, created_at, modified_at)
    select '76' || lpad(i::text, 14, '0'), 'member-' || lpad(i::text, 5, '0') || '-abcdefghijklmnopqrst@big.example.com', 'Member ' || i, ${now}, ${now}
    from generate_series(1, ${sql.lit(total)}) as i`.execute(db);
  await sql`insert into organization_memberships (gid, organization_gid, user_gid, role, created_at)
    select '77' || lpad(i::text, 14, '0'), ${ORG}, '76' || lpad(i::text, 14, '0'), 'member', ${now} from generate_series(1, ${sql.lit(total)}) as i`.execute(db);
  await sql`insert into team_memberships (gid, team_gid, user_gid, is_limited_access, created_at)
    select '78' || lpad(i::text, 14, '0'), ${T.big}, '76' || lpad(i::text, 14, '0'), i > ${sql.lit(BIG_FULL)}, ${now} from generate_series(1, ${sql.lit(total)}) as i`.execute(db);
  await sql`insert into one_time_tokens (token_hash, purpose, organization_gid, email, role, team_gid, created_by, created_at, expires_at)
    select 'big' || i, 'invitation', ${ORG}, 'invitee-' || lpad(i::text, 5, '0') || '-abcdefghijklmnopqrst@pending.example.com', 'member', ${T.big}, ${U.alice}, ${now}, ${VALID_UNTIL}
    from generate_series(1, ${sql.lit(BIG_PENDING)}) as i`.execute(db);
}

const parseCsv = (text: string) => parse(text, { bom: true, relax_column_count: false }) as string[][];

type Rec = Record<(typeof TEAM_CSV_HEADER)[number], string>;
function records(text: string): Rec[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((row) => Object.fromEntries(header!.map((h, i) => [h, row[i]!])) as Rec);
}
const teamRecords = (recs: Rec[], name: string) => recs.filter((r) => r.Team === name);
const emailsOf = (cells: string[]) => cells.filter((c) => c !== '').flatMap((c) => c.split(', '));

/** Renders the whole plan, noting the text written before every checkpoint. */
async function renderWithCheckpoints(db: Db, tuning: Partial<TeamCsvTuning>) {
  const parts: string[] = [];
  const checkpoints: { prefix: string; position: ExportPosition }[] = [];
  for await (const piece of renderPlan(await buildTeamCsvExport(db, JOB, tuning))) {
    if ('text' in piece) parts.push(piece.text);
    else checkpoints.push({ prefix: parts.join(''), position: JSON.parse(JSON.stringify(piece.checkpoint)) as ExportPosition });
  }
  return { text: parts.join(''), checkpoints };
}

let engine: TestEngine;
let text: string;
let recs: Rec[];

beforeAll(async () => {
  engine = await openEngine('pglite');
  await seed(engine.db);
  text = await renderPlanToString(await buildTeamCsvExport(engine.db, JOB));
  recs = records(text);
});

afterAll(async () => {
  await engine?.close();
});

describe('the team CSV document', () => {
  test('plan: CSV content type, not gzipped, file name from the organization and the request day', async () => {
    const plan = await buildTeamCsvExport(engine.db, JOB);
    expect(plan.contentType).toBe('text/csv; charset=utf-8');
    expect(plan.gzip).toBe(false);
    expect(plan.filename).toBe('Acme_ Ops_Team teams 2025-06-01.csv');
    expect(plan.sections.map((s) => [s.name, s.open, s.close, s.separator])).toEqual([['teams', '', '', '']]);
    expect(plan.epilogue).toBe('');
  });

  test('BOM, the exact header, CRLF records', () => {
    expect(text.startsWith('\uFEFFTeam,Member count,Privacy,Created on,Created by,Description,Member (email),Limited access member (email),Pending invite (email)\r\n')).toBe(true);
    expect(parseCsv(text)[0]).toEqual([...TEAM_CSV_HEADER]);
    expect(text.endsWith('\r\n')).toBe(true);
  });

  test('one first record per team of the organization, secret ones included, in name order; deleted teams and other organizations absent', () => {
    const firsts = recs.filter((r) => r['Member count'] !== '');
    expect(firsts.map((r) => r.Team)).toEqual(["'=SUM(1+1)", 'Alpha', 'Big', 'Empty', 'Long text', 'Secret']);
    expect(recs.some((r) => r.Team === 'Deleted' || r.Team === 'Other team')).toBe(false);
    expect(text).not.toContain('other@elsewhere.example');
  });

  test('counts, privacy, created on (UTC day), created by (email), description', () => {
    const [alpha] = teamRecords(recs, 'Alpha');
    expect(teamRecords(recs, 'Alpha')).toHaveLength(1);
    expect(alpha).toMatchObject({ 'Member count': '3', Privacy: 'public', 'Created on': '2024-03-05', 'Created by': EMAIL.alice, Description: 'The alpha team, "first", with commas, and\nlines' });
    expect(teamRecords(recs, 'Secret')[0]).toMatchObject({ 'Member count': '4', Privacy: 'secret', 'Created by': '' /* deleted creator */ });
    expect(teamRecords(recs, 'Empty')[0]).toEqual({ Team: 'Empty', 'Member count': '0', Privacy: 'secret', 'Created on': '2024-03-05', 'Created by': '' /* removed from the organization */, Description: '', 'Member (email)': '', 'Limited access member (email)': '', 'Pending invite (email)': '' });
    expect(teamRecords(recs, 'Big')[0]).toMatchObject({ 'Member count': String(BIG_FULL + BIG_LIMITED), Privacy: 'request_to_join', 'Created by': '' });
  });

  test('full, limited and pending people apart; deleted and removed people absent; an invitation counted once, not when expired, used or already a member', () => {
    const [alpha] = teamRecords(recs, 'Alpha');
    expect(alpha!['Member (email)']).toBe(`${EMAIL.alice}, ${EMAIL.carol}`);
    expect(alpha!['Limited access member (email)']).toBe(EMAIL.bob);
    expect(alpha!['Pending invite (email)'].toLowerCase()).toBe('pending@elsewhere.example');
    const [secret] = teamRecords(recs, 'Secret');
    // The leading quote is csv.ts's neutralization when the formula-like email comes first (collation dependent).
    expect(secret!['Member (email)'].replace(/^'/, '').split(', ').sort()).toEqual([EMAIL.mallory, EMAIL.alice, EMAIL.bob].sort());
    expect(secret!['Limited access member (email)']).toBe(EMAIL.carol);
  });

  test('formula injection is neutralized in every column', () => {
    const [formula] = teamRecords(recs, "'=SUM(1+1)");
    expect(formula).toMatchObject({ Description: "'-2+3", 'Created by': `'${EMAIL.mallory}`, 'Member (email)': `'${EMAIL.mallory}`, 'Member count': '1' });
    for (const r of recs) for (const cell of Object.values(r)) expect(/^[=+\-@\t\r\n＝＋－＠]/u.test(cell)).toBe(false);
  });

  test('a team too large for one record continues on further records: no cell over the limit, every email exactly once, in order', () => {
    const big = teamRecords(recs, 'Big');
    const full = Array.from({ length: BIG_FULL }, (_, i) => bigEmail(i + 1));
    const limited = Array.from({ length: BIG_LIMITED }, (_, i) => bigEmail(BIG_FULL + i + 1));
    const pending = Array.from({ length: BIG_PENDING }, (_, i) => inviteeEmail(i + 1));
    expect(full.join(', ').length).toBeGreaterThan(3 * CELL_LIMIT);
    expect(big.length).toBe(Math.max(...[full, limited, pending].map((l) => packEmails(l).length)));
    expect(big.length).toBeGreaterThanOrEqual(4);
    for (const r of big.slice(1)) expect([r['Member count'], r.Privacy, r['Created on'], r['Created by']]).toEqual(['', '', '', '']);
    expect(emailsOf(big.map((r) => r['Member (email)']))).toEqual(full);
    expect(emailsOf(big.map((r) => r['Limited access member (email)']))).toEqual(limited);
    expect(emailsOf(big.map((r) => r['Pending invite (email)']))).toEqual(pending);
    // Cells are filled: the next email would not have fitted.
    const cells = big.map((r) => r['Member (email)']);
    for (let i = 0; i < cells.length - 1; i++) expect(cells[i]!.length + 2 + cells[i + 1]!.split(', ')[0]!.length).toBeGreaterThan(CELL_LIMIT);
  });

  test('no cell anywhere over 32,767 characters; a long description is split over records and joins back', () => {
    for (const r of parseCsv(text)) for (const cell of r) expect(cell.length).toBeLessThanOrEqual(CELL_LIMIT);
    const long = teamRecords(recs, 'Long text');
    expect(LONG_DESCRIPTION.length).toBeGreaterThan(2 * CELL_LIMIT);
    expect(long.length).toBe(splitText(LONG_DESCRIPTION).length);
    expect(long.length).toBe(3);
    expect(long.map((r) => r.Description).join('')).toBe(LONG_DESCRIPTION);
    expect(long[0]!['Member count']).toBe('0');
    expect(long.slice(1).every((r) => r['Member count'] === '' && r.Team === 'Long text')).toBe(true);
  });
});

describe('cells', () => {
  test('packEmails fills greedily up to the limit exactly, counting the quote a formula-like first email gets', () => {
    // 3,641 emails of 7 characters with 3,640 separators: exactly 32,767 characters.
    const exact = Array.from({ length: 3641 }, () => 'a@b.cde');
    expect(packEmails(exact)).toEqual([exact.join(', ')]);
    expect(packEmails(exact)[0]!.length).toBe(CELL_LIMIT);
    expect(packEmails([...exact, 'z@b.cde'])).toEqual([exact.join(', '), 'z@b.cde']);
    const formula = packEmails(['=@b.cde', ...exact.slice(1)]);
    expect(formula.map((c) => c.length)).toEqual([CELL_LIMIT - 9, 7]);
    expect(packEmails([])).toEqual([]);
  });

  test('splitText never splits a surrogate pair nor starts a piece with a formula character when it can avoid it', () => {
    const emoji = '🎉'.repeat(20_000);
    const pieces = splitText(emoji);
    expect(pieces.join('')).toBe(emoji);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(CELL_LIMIT);
    for (const p of pieces) expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(p)).toBe(false);
    const dashes = `${'a'.repeat(CELL_LIMIT - 1)}${'-'.repeat(10)}b`;
    const cut = splitText(dashes);
    expect(cut.join('')).toBe(dashes);
    expect(cut.slice(1).every((p) => !p.startsWith('-'))).toBe(true);
    expect(splitText('')).toEqual(['']);
    expect(splitText(`=${'a'.repeat(CELL_LIMIT - 1)}`)).toHaveLength(2);
  });
});

describe('paging and resumption', () => {
  test('the text does not depend on the paging sizes', async () => {
    const { text: small } = await renderWithCheckpoints(engine.db, { ...SMALL, fetchRows: 150 });
    expect(small).toBe(text);
  });

  test('resuming at every checkpoint from a freshly built plan gives the identical text', async () => {
    const { text: whole, checkpoints } = await renderWithCheckpoints(engine.db, SMALL);
    expect(whole).toBe(text);
    // Pages of small teams, pages inside the large teams (Big, and Secret with more than 2 members), the end.
    expect(checkpoints.length).toBeGreaterThanOrEqual(8);
    const inside = checkpoints.filter((c) => c.position.after !== null && (JSON.parse(Buffer.from(c.position.after, 'base64url').toString()) as { g?: string }).g !== undefined);
    expect(inside.length).toBeGreaterThanOrEqual(3);
    for (const { prefix, position } of checkpoints) {
      const parts: string[] = [];
      for await (const piece of renderPlan(await buildTeamCsvExport(engine.db, JOB, SMALL), position)) if ('text' in piece) parts.push(piece.text);
      expect(prefix + parts.join('')).toBe(whole);
    }
    expect(checkpoints.at(-1)!.position.counts.teams).toBe(parseCsv(text).length - 1);
  });

  test('an organization without teams is the header alone', async () => {
    const empty = await renderPlanToString(await buildTeamCsvExport(engine.db, { ...JOB, organizationGid: EMPTY_ORG }));
    expect(empty).toBe(`\uFEFF${TEAM_CSV_HEADER.join(',')}\r\n`);
  });
});

describe('on the Data API stand-in', () => {
  test('the same document, page responses within the Data API limits', async () => {
    const standIn = await openEngine('data-api');
    try {
      await seed(standIn.db);
      expect(await renderPlanToString(await buildTeamCsvExport(standIn.db, JOB))).toBe(text);
    } finally {
      await standIn.close();
    }
  });
});
