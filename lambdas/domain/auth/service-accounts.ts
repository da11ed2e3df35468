/** Service accounts: organization-owned bearer tokens limited to their scopes. */
import type { Principal } from './sessions.js';
import type { AppDeps } from '../deps.js';
import { recordAudit } from '../audit.js';
import { NotFoundError } from '../errors.js';
import { hashToken, newToken } from './tokens.js';

export const SERVICE_ACCOUNT_SCOPES = ['exports'] as const;
export type ServiceAccountScope = (typeof SERVICE_ACCOUNT_SCOPES)[number];

/** Whether a principal may use a scope in an organization (users are checked by role elsewhere). */
export function hasScope(principal: Principal, organizationGid: string, scope: ServiceAccountScope): boolean {
  return principal.kind === 'service_account' && principal.organizationGid === organizationGid && principal.scopes.includes(scope);
}

export async function createServiceAccount(deps: AppDeps, input: { organizationGid: string; name: string; scopes: ServiceAccountScope[]; creatorGid: string; ip: string; userAgent: string }) {
  const now = deps.clock.now();
  const token = newToken();
  const gid = deps.ids.gid();
  const scopes = [...new Set(input.scopes)].sort();
  await deps.database.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('service_accounts')
      .values({ gid, organization_gid: input.organizationGid, name: input.name, scopes: scopes.join(','), token_hash: hashToken(token), created_by: input.creatorGid, created_at: now })
      .execute();
    await recordAudit(trx, deps, { organizationGid: input.organizationGid, type: 'service_account_created', category: 'admin_settings', actor: { type: 'user', gid: input.creatorGid }, resource: { type: 'service_account', gid }, ip: input.ip, userAgent: input.userAgent, details: { name: input.name, scopes } });
  });
  return { gid, name: input.name, scopes, token, created_at: now };
}

export async function revokeServiceAccount(deps: AppDeps, input: { organizationGid: string; gid: string; actorGid: string; ip: string; userAgent: string }) {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (trx) => {
    const row = await trx.updateTable('service_accounts').set({ revoked_at: now }).where('gid', '=', input.gid).where('organization_gid', '=', input.organizationGid).where('revoked_at', 'is', null).returning('gid').executeTakeFirst();
    if (!row) throw new NotFoundError('Service account not found');
    await recordAudit(trx, deps, { organizationGid: input.organizationGid, type: 'service_account_revoked', category: 'admin_settings', actor: { type: 'user', gid: input.actorGid }, resource: { type: 'service_account', gid: input.gid }, ip: input.ip, userAgent: input.userAgent });
  });
}
