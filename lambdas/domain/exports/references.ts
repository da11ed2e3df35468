/**
 * The objects an organization export refers to from its largest sections (a task's
 * followers, projects, sections, teams and tags; the people who liked a task or a
 * comment), rendered as compact JSON once and kept for the pages that follow.
 *
 * The relations themselves are read as bare keys (task_followers' task and user ...), so
 * the database does no join, no JSON and no aggregation per related row: 100,000 tasks
 * have about 560,000 of them, and their names repeat (a few thousand people, projects
 * and tags). A page asks for the objects its rows name; those not kept yet are read in
 * one statement per kind (chunks of REFERENCE_READ_GIDS, each keyset-paged under the
 * Data API's limits) and kept, oldest first out, within REFERENCE_CACHE_BYTES.
 *
 * Names are those read when a page first needed the object: like the pages themselves,
 * which are not one snapshot, a rename during the export may show on later objects only.
 */
import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../work/common.js';
import { projectCompact, sectionCompact, tagCompact, teamCompact, userCompact } from '../work/present.js';
import { allPages } from './task-rows.js';

export type ReferenceKind = 'user' | 'project' | 'section' | 'team' | 'tag';

/** One referenced object: its compact JSON; a project also names its team. */
export interface Reference {
  json: string;
  team: string | null;
}

/** What may be referenced: null when the object is not part of the export (another organization, a tag deleted too long ago). */
export type References = ReadonlyMap<string, Reference | null>;

/** Text kept across pages (compact JSON and keys, UTF-16 counted): a few MB, whatever the organization's size. */
export const REFERENCE_CACHE_BYTES = 8 * 1024 * 1024;
/** Gids per statement when reading references (each statement is paged by keysetPage). */
export const REFERENCE_READ_GIDS = 1000;
/** Rows per statement page when reading references. */
const REFERENCE_PAGE_ROWS = 5000;

export interface ReferenceFilters {
  organizationGid: string;
  /** Tags deleted before this are not exported (see the organization export's 30-day window). */
  cutoff: Date;
}

interface Row {
  gid: string;
  name: string;
  team_gid: string | null;
}

const render: Record<ReferenceKind, (r: Row) => Reference> = {
  user: (r) => ({ json: JSON.stringify(userCompact(r)), team: null }),
  project: (r) => ({ json: JSON.stringify(projectCompact(r)), team: r.team_gid }),
  section: (r) => ({ json: JSON.stringify(sectionCompact(r)), team: null }),
  team: (r) => ({ json: JSON.stringify(teamCompact(r)), team: null }),
  tag: (r) => ({ json: JSON.stringify(tagCompact(r)), team: null }),
};

/** The statement that reads one kind's objects by gid, scoped as the export scopes them. */
function source(db: Db, kind: ReferenceKind, gids: string[], filters: ReferenceFilters): SelectQueryBuilder<any, any, Row> {
  const noTeam = sql<null>`null`.as('team_gid');
  switch (kind) {
    case 'user':
      return db.selectFrom('users as x').select(['x.gid', 'x.name', noTeam]).where('x.gid', 'in', gids);
    case 'section':
      return db.selectFrom('sections as x').select(['x.gid', 'x.name', noTeam]).where('x.gid', 'in', gids);
    case 'team':
      return db.selectFrom('teams as x').select(['x.gid', 'x.name', noTeam]).where('x.gid', 'in', gids);
    case 'project':
      // Deleted projects are always exported (with deleted_at), so a task still names them.
      return db.selectFrom('projects as x').select(['x.gid', 'x.name', 'x.team_gid']).where('x.gid', 'in', gids).where('x.organization_gid', '=', filters.organizationGid);
    case 'tag':
      return db
        .selectFrom('tags as x')
        .select(['x.gid', 'x.name', noTeam])
        .where('x.gid', 'in', gids)
        .where('x.organization_gid', '=', filters.organizationGid)
        .where(sql<boolean>`(x.deleted_at is null or x.deleted_at >= ${filters.cutoff})`);
  }
}

/** Approximate memory of one kept entry: its key and JSON (two bytes a character) and the map's own share. */
const entryBytes = (key: string, value: Reference | null) => 2 * (key.length + (value?.json.length ?? 0) + (value?.team?.length ?? 0)) + 64;

export class ReferenceCache {
  readonly #db: Db;
  readonly #filters: ReferenceFilters;
  readonly #capacity: number;
  /** Kept and pending objects by `kind:gid`, oldest first (a hit moves an entry to the end). */
  readonly #entries = new Map<string, Promise<Reference | null>>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  constructor(db: Db, filters: ReferenceFilters, capacityBytes = REFERENCE_CACHE_BYTES) {
    this.#db = db;
    this.#filters = filters;
    this.#capacity = capacityBytes;
  }

  /** The objects of one kind that these gids name (repeats and nulls allowed), read when not kept. */
  async resolve(kind: ReferenceKind, gids: Iterable<string | null>): Promise<References> {
    const wanted = new Set<string>();
    for (const gid of gids) if (gid !== null) wanted.add(gid);
    const missing: string[] = [];
    const pending = new Map<string, Promise<Reference | null>>();
    for (const gid of wanted) {
      const key = `${kind}:${gid}`;
      const kept = this.#entries.get(key);
      if (kept) {
        this.#entries.delete(key);
        this.#entries.set(key, kept);
        pending.set(gid, kept);
      } else missing.push(gid);
    }
    if (missing.length) {
      const read = this.#read(kind, missing);
      for (const gid of missing) {
        const key = `${kind}:${gid}`;
        const entry = read.then((found) => found.get(gid) ?? null);
        pending.set(gid, entry);
        this.#entries.set(key, entry);
        // A failed read is not kept: the page fails, and a retry reads again.
        entry.then(
          (value) => this.#kept(key, entry, value),
          () => this.#entries.get(key) === entry && this.#entries.delete(key),
        );
      }
    }
    const out = new Map<string, Reference | null>();
    const values = await Promise.all(pending.values());
    let i = 0;
    for (const gid of pending.keys()) out.set(gid, values[i++]!);
    return out;
  }

  async #read(kind: ReferenceKind, gids: string[]): Promise<Map<string, Reference>> {
    const found = new Map<string, Reference>();
    for (let i = 0; i < gids.length; i += REFERENCE_READ_GIDS) {
      for await (const rows of allPages(this.#db, source(this.#db, kind, gids.slice(i, i + REFERENCE_READ_GIDS), this.#filters), [{ column: 'gid' }], REFERENCE_PAGE_ROWS)) {
        for (const r of rows) found.set(r.gid, render[kind](r));
      }
    }
    return found;
  }

  /** Accounts for an entry read, and lets the oldest go while over capacity (never the one just read). */
  #kept(key: string, entry: Promise<Reference | null>, value: Reference | null): void {
    if (this.#entries.get(key) !== entry || this.#sizes.has(key)) return;
    const size = entryBytes(key, value);
    this.#sizes.set(key, size);
    this.#bytes += size;
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#capacity || oldest === key) break;
      const gone = this.#sizes.get(oldest);
      if (gone === undefined) continue; // still being read
      this.#entries.delete(oldest);
      this.#sizes.delete(oldest);
      this.#bytes -= gone;
    }
  }

  /** Text kept now (tests). */
  get bytes(): number {
    return this.#bytes;
  }
}
