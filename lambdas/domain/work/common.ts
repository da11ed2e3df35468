/** Shared pieces of the work-graph use cases. */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
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
