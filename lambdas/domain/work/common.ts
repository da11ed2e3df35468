/** Shared pieces of the work-graph use cases. */
import { sql, type Kysely } from 'kysely';
import type { DB, DeletedObjectType } from '../../db/schema.js';
import type { Principal } from '../auth/sessions.js';
import { NotFoundError } from '../errors.js';
import { viewerIn, type Viewer } from '../access/policy.js';

export type Db = Kysely<DB>;

type OrgTable = 'teams' | 'projects' | 'tasks' | 'tags' | 'custom_fields' | 'attachments' | 'messages' | 'project_templates' | 'saved_searches';

/**
 * The viewer for an object: looks up the object's organization and the caller's role
 * there. Unknown objects and organizations the caller does not belong to are both 404.
 */
export async function viewerForObject(db: Db, principal: Principal, table: OrgTable, gid: string): Promise<Viewer> {
  const row = await db.selectFrom(table).select('organization_gid').where('gid', '=', gid).executeTakeFirst();
  if (!row) throw new NotFoundError();
  return viewerIn(db, principal, row.organization_gid);
}

/** The organization of a section (through its project). */
export async function viewerForSection(db: Db, principal: Principal, sectionGid: string): Promise<{ viewer: Viewer; projectGid: string }> {
  const row = await db.selectFrom('sections as s').innerJoin('projects as p', 'p.gid', 's.project_gid').select(['p.organization_gid', 'p.gid']).where('s.gid', '=', sectionGid).where('s.deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw new NotFoundError();
  return { viewer: await viewerIn(db, principal, row.organization_gid), projectGid: row.gid };
}

/** Position after the last one of a list (ordered by double precision positions). */
export async function nextPosition(db: Db, table: 'sections' | 'task_projects' | 'custom_field_enum_options' | 'project_custom_field_settings', column: 'project_gid' | 'custom_field_gid', parent: string): Promise<number> {
  const row = await sql<{ max: number | null }>`select max(position) as max from ${sql.table(table)} where ${sql.ref(column)} = ${parent}`.execute(db);
  const max = row.rows[0]?.max;
  return max === null || max === undefined ? 1 : Number(max) + 1;
}

/** A position between two neighbours (either may be missing). */
export function positionBetween(before: number | null, after: number | null): number {
  if (before === null && after === null) return 1;
  if (before === null) return after! - 1;
  if (after === null) return before + 1;
  return (before + after) / 2;
}

export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * modified_at moved forward to `now` (never back): the value for `.set({ modified_at })`.
 * Every change of a row with modified_at sets it, with the app clock, in the change's
 * transaction; incremental organization exports find changed objects by it.
 */
export const movedTo = (now: Date) => sql<Date>`greatest(modified_at, ${now})`;

type TrackedTable = 'teams' | 'projects' | 'tasks' | 'stories' | 'custom_fields';

/**
 * A change of an object's relations (followers, likes, tags, projects, members, custom
 * field settings, enum options) is a change of the object: its modified_at moves, so an
 * incremental export writes it again with its current relations (docs/export-format.md).
 */
export async function touchRows(db: Db, table: TrackedTable, gids: string | string[], now: Date): Promise<void> {
  const list = typeof gids === 'string' ? [gids] : [...new Set(gids)];
  if (list.length === 0) return;
  await db.updateTable(table).set({ modified_at: movedTo(now) }).where('gid', 'in', list).execute();
}

/**
 * Records objects (with a gid) whose rows are being deleted for good, in the deleting
 * transaction: incremental organization exports list them as tombstones. `deletedAt` is
 * when the object stopped existing for the API (for purged objects, their deleted_at).
 */
export async function recordDeletions(db: Db, rows: { organizationGid: string; resourceType: DeletedObjectType; gid: string; deletedAt: Date }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('deleted_objects')
    .values(rows.map((r) => ({ organization_gid: r.organizationGid, resource_type: r.resourceType, gid: r.gid, deleted_at: r.deletedAt })))
    .onConflict((oc) => oc.columns(['resource_type', 'gid']).doNothing())
    .execute();
}
