/** The caller's own account: profile, sessions, login history. */
import { z } from 'zod';
import { keysetPage } from '../../db/query.js';
import { recordUserAudit } from '../../domain/audit.js';
import { revokeSessions } from '../../domain/auth/sessions.js';
import { NotFoundError } from '../../domain/errors.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid } from '../schemas.js';
import { userCompact, userSchema, workspaceCompactOf } from './auth.js';

export const meRoute = defineRoute({
  method: 'GET',
  path: '/users/me',
  scope: 'api',
  operationId: 'getCurrentUser',
  summary: 'The user of this session, with their workspaces',
  tags: ['Users'],
  auth: 'user',
  request: {},
  responses: { 200: { description: 'The user', schema: dataBody(userSchema) } },
  async handle({ principal, deps }) {
    const orgs = await deps.database.db
      .selectFrom('organizations as o')
      .innerJoin('organization_memberships as m', 'm.organization_gid', 'o.gid')
      .select(['o.gid', 'o.name'])
      .where('m.user_gid', '=', principal.user.gid)
      .where('m.removed_at', 'is', null)
      .where('o.deleted_at', 'is', null)
      .orderBy('o.name')
      .limit(500)
      .execute();
    return { kind: 'data', data: { ...userCompact(principal.user), workspaces: orgs.map(workspaceCompactOf) } };
  },
});

const sessionSchema = z
  .object({
    gid,
    resource_type: z.literal('session'),
    created_at: z.string(),
    last_used_at: z.string(),
    expires_at: z.string(),
    method: z.string(),
    ip_address: z.string().nullable(),
    user_agent: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: 'Session' });

export const listSessionsRoute = defineRoute({
  method: 'GET',
  path: '/users/me/sessions',
  scope: 'api',
  operationId: 'listMySessions',
  summary: 'Your active sessions',
  tags: ['Users'],
  auth: 'user',
  request: {},
  responses: { 200: { description: 'Active sessions, newest first', schema: listBody(sessionSchema) } },
  async handle({ principal, page: paging, deps }) {
    const now = deps.clock.now();
    const idleLimit = new Date(now.getTime() - deps.config.auth.sessionIdleSeconds * 1000);
    const base = deps.database.db
      .selectFrom('sessions')
      .select(['gid', 'created_at', 'last_used_at', 'expires_at', 'method', 'ip_address', 'user_agent'])
      .where('user_gid', '=', principal.user.gid)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('last_used_at', '>', idleLimit);
    const page = await keysetPage(deps.database.db, base, { keys: [{ column: 'created_at', direction: 'desc' }, { column: 'gid', direction: 'desc' }], limit: paging.limit, after: paging.offset });
    return {
      kind: 'list',
      next: page.next,
      data: page.rows.map((s) => ({ gid: s.gid, resource_type: 'session', created_at: s.created_at.toISOString(), last_used_at: s.last_used_at.toISOString(), expires_at: s.expires_at.toISOString(), method: s.method, ip_address: s.ip_address, user_agent: s.user_agent, current: s.gid === principal.sessionGid })),
    };
  },
});

export const revokeSessionRoute = defineRoute({
  method: 'DELETE',
  path: '/users/me/sessions/{session_gid}',
  scope: 'api',
  operationId: 'revokeMySession',
  summary: 'Sign out one of your sessions',
  tags: ['Users'],
  auth: 'user',
  request: { params: z.object({ session_gid: gid }) },
  responses: { 200: { description: 'Revoked', schema: dataBody(z.object({})) } },
  async handle({ principal, params, meta, deps }) {
    const now = deps.clock.now();
    await deps.database.db.transaction().execute(async (trx) => {
      const revoked = await revokeSessions(trx, { userGid: principal.user.gid, now, reason: 'revoked_by_user', onlyGid: params.session_gid });
      if (revoked === 0) throw new NotFoundError('Session not found');
      await recordUserAudit(trx, deps, principal.user.gid, { type: 'user_session_revoked', category: 'logins', actor: { type: 'user', gid: principal.user.gid }, resource: { type: 'session', gid: params.session_gid }, ip: meta.sourceIp, userAgent: meta.userAgent });
    });
    return { kind: 'data', data: {} };
  },
});

const loginSchema = z
  .object({
    gid,
    resource_type: z.literal('login'),
    created_at: z.string(),
    method: z.string(),
    browser: z.string(),
    os: z.string(),
    ip_address: z.string().nullable().meta({ description: 'Cleared after the retention period (90 days by default).' }),
    new_browser_and_ip: z.boolean(),
  })
  .meta({ id: 'LoginEvent' });

export const listLoginsRoute = defineRoute({
  method: 'GET',
  path: '/users/me/logins',
  scope: 'api',
  operationId: 'listMyLogins',
  summary: 'Your login history, newest first',
  tags: ['Users'],
  auth: 'user',
  request: {},
  responses: { 200: { description: 'Logins', schema: listBody(loginSchema) } },
  async handle({ principal, page: paging, deps }) {
    const base = deps.database.db.selectFrom('login_events').select(['gid', 'created_at', 'method', 'browser', 'os', 'ip_address', 'was_new']).where('user_gid', '=', principal.user.gid);
    const page = await keysetPage(deps.database.db, base, { keys: [{ column: 'created_at', direction: 'desc' }, { column: 'gid', direction: 'desc' }], limit: paging.limit, after: paging.offset });
    return {
      kind: 'list',
      next: page.next,
      data: page.rows.map((l) => ({ gid: l.gid, resource_type: 'login', created_at: l.created_at.toISOString(), method: l.method, browser: l.browser, os: l.os, ip_address: l.ip_address, new_browser_and_ip: l.was_new })),
    };
  },
});

export const meRoutes = [meRoute, listSessionsRoute, revokeSessionRoute, listLoginsRoute];
