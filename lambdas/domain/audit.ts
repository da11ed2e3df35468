/** The security audit trail: one row per security event, read by super admins. */
import type { Kysely } from 'kysely';
import type { ActorType, DB } from '../db/schema.js';
import { json } from '../db/query.js';
import type { Clock, Ids } from '../adapters/ports.js';

export interface AuditEvent {
  organizationGid?: string | null;
  /** Asana's naming, e.g. user_login_succeeded, user_login_failed, user_session_revoked. */
  type: string;
  category: 'logins' | 'user_access' | 'access_control' | 'admin_settings' | 'exports';
  actor: { type: ActorType; gid?: string | null };
  resource?: { type: string; gid: string };
  ip?: string;
  userAgent?: string;
  details?: Record<string, unknown>;
}

export async function recordAudit(db: Kysely<DB>, deps: { ids: Ids; clock: Clock }, event: AuditEvent): Promise<void> {
  await db
    .insertInto('audit_log_events')
    .values({
      gid: deps.ids.gid(),
      organization_gid: event.organizationGid ?? null,
      event_type: event.type,
      event_category: event.category,
      actor_type: event.actor.type,
      actor_gid: event.actor.gid ?? null,
      resource_type: event.resource?.type ?? null,
      resource_gid: event.resource?.gid ?? null,
      ip_address: event.ip || null,
      user_agent: event.userAgent ? event.userAgent.slice(0, 512) : null,
      details: json(event.details ?? {}),
      created_at: deps.clock.now(),
    })
    .execute();
}

/** Security events about a user are recorded in every organization they belong to. */
export async function recordUserAudit(db: Kysely<DB>, deps: { ids: Ids; clock: Clock }, userGid: string, event: Omit<AuditEvent, 'organizationGid'>): Promise<void> {
  const orgs = await db.selectFrom('organization_memberships').select('organization_gid').where('user_gid', '=', userGid).where('removed_at', 'is', null).execute();
  if (orgs.length === 0) return recordAudit(db, deps, { ...event, organizationGid: null });
  for (const { organization_gid } of orgs) await recordAudit(db, deps, { ...event, organizationGid: organization_gid });
}

/** Clears the IP address and user agent of audit events older than the retention period (the event itself is kept). */
export async function purgeAuditIps(db: Kysely<DB>, now: Date, retentionDays: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const rows = await db
    .updateTable('audit_log_events')
    .set({ ip_address: null, user_agent: null })
    .where('created_at', '<', cutoff)
    .where((eb) => eb.or([eb('ip_address', 'is not', null), eb('user_agent', 'is not', null)]))
    .returning('gid')
    .execute();
  return rows.length;
}
