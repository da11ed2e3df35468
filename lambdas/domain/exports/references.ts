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
 * Data API's limits) and kept within REFERENCE_CACHE_BYTES, the least recently named
 * going first.
 *
 * Names are those read when a page first needed the object: like the pages themselves,
 * which are not one snapshot, a rename during the export may show on later objects only.
 */
import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../work/common.js';
import { gidIn } from '../../db/query.js';
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

/** Memory kept across pages (see entryBytes): a few MB, whatever the organization's size. */
export const REFERENCE_CACHE_BYTES = 6 * 1024 * 1024;
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
      return db.selectFrom('users as x').select(['x.gid', 'x.name', noTeam]).where(gidIn('x.gid', gids));
    case 'section':
      return db.selectFrom('sections as x').select(['x.gid', 'x.name', noTeam]).where(gidIn('x.gid', gids));
    case 'team':
      return db.selectFrom('teams as x').select(['x.gid', 'x.name', noTeam]).where(gidIn('x.gid', gids));
    case 'project':
      // Deleted projects are always exported (with deleted_at), so a task still names them.
      return db.selectFrom('projects as x').select(['x.gid', 'x.name', 'x.team_gid']).where(gidIn('x.gid', gids)).where('x.organization_gid', '=', filters.organizationGid);
    case 'tag':
      return db
        .selectFrom('tags as x')
        .select(['x.gid', 'x.name', noTeam])
        .where(gidIn('x.gid', gids))
        .where('x.organization_gid', '=', filters.organizationGid)
        .where(sql<boolean>`(x.deleted_at is null or x.deleted_at >= ${filters.cutoff})`);
  }
}

const KINDS: ReferenceKind[] = ['user', 'project', 'section', 'team', 'tag'];

/**
 * Memory counted for one kept object: its gid, JSON and team as two-byte characters (the
 * most a string takes), and the map slot. The JSON is what stays live; counting it this
 * way keeps the cache small, which matters twice: V8 lets the heap grow to a multiple of
 * what survives a full collection.
 */
const entryBytes = (gid: string, json: string | null, team: string | undefined) => 2 * (gid.length + (json?.length ?? 0) + (team?.length ?? 0)) + 64;

export class ReferenceCache {
  readonly #db: Db;
  readonly #filters: ReferenceFilters;
  readonly #capacity: number;
  /** Kept objects of each kind, by gid, least recently named first: their JSON, or null (not exported). */
  readonly #kept: Record<ReferenceKind, Map<string, string | null>> = { user: new Map(), project: new Map(), section: new Map(), team: new Map(), tag: new Map() };
  /** The team of each kept project that has one. */
  readonly #teams = new Map<string, string>();
  /** Reads under way, by `kind:gid`: a page that names the same objects waits for them instead of reading again. */
  readonly #reading = new Map<string, Promise<Map<string, Reference>>>();
  #bytes = 0;

  constructor(db: Db, filters: ReferenceFilters, capacityBytes = REFERENCE_CACHE_BYTES) {
    this.#db = db;
    this.#filters = filters;
    this.#capacity = capacityBytes;
  }

  /** The objects of one kind that these gids name (repeats and nulls allowed), read when not kept. */
  async resolve(kind: ReferenceKind, gids: Iterable<string | null>): Promise<References> {
    const kept = this.#kept[kind];
    const out = new Map<string, Reference | null>();
    const missing: string[] = [];
    const waiting: [string, Promise<Map<string, Reference>>][] = [];
    for (const gid of gids) {
      if (gid === null || out.has(gid)) continue;
      const json = kept.get(gid);
      if (json !== undefined) {
        // Named again: now the most recent.
        kept.delete(gid);
        kept.set(gid, json);
        out.set(gid, json === null ? null : { json, team: this.#teams.get(gid) ?? null });
        continue;
      }
      out.set(gid, null); // placeholder, filled below (also dedupes)
      const reading = this.#reading.get(`${kind}:${gid}`);
      if (reading) waiting.push([gid, reading]);
      else missing.push(gid);
    }
    if (missing.length) {
      const read = this.#read(kind, missing);
      for (const gid of missing) this.#reading.set(`${kind}:${gid}`, read);
      const done = () => {
        for (const gid of missing) if (this.#reading.get(`${kind}:${gid}`) === read) this.#reading.delete(`${kind}:${gid}`);
      };
      // Kept once read; a failed read is not kept (the page fails, and a retry reads again).
      read.then((found) => {
        done();
        for (const gid of missing) this.#keep(kind, gid, found.get(gid) ?? null);
      }, done);
      const found = await read;
      for (const gid of missing) out.set(gid, found.get(gid) ?? null);
    }
    for (const [gid, reading] of waiting) out.set(gid, (await reading).get(gid) ?? null);
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

  /** Keeps one object read, and lets the least recently named go while over capacity (never the one just kept). */
  #keep(kind: ReferenceKind, gid: string, reference: Reference | null): void {
    const kept = this.#kept[kind];
    if (kept.has(gid)) return;
    kept.set(gid, reference?.json ?? null);
    if (reference?.team) this.#teams.set(gid, reference.team);
    this.#bytes += entryBytes(gid, reference?.json ?? null, reference?.team ?? undefined);
    for (const victims of [kind, ...KINDS.filter((k) => k !== kind)]) {
      const map = this.#kept[victims];
      for (const [old, json] of map) {
        if (this.#bytes <= this.#capacity || old === gid) break;
        map.delete(old);
        const team = victims === 'project' ? this.#teams.get(old) : undefined;
        if (team !== undefined) this.#teams.delete(old);
        this.#bytes -= entryBytes(old, json, team);
      }
      if (this.#bytes <= this.#capacity) return;
    }
  }

  /** Memory counted for what is kept now (tests). */
  get bytes(): number {
    return this.#bytes;
  }
}
