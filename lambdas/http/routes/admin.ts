/** Organization administration: invitations, service accounts, the audit log. */
import { sql } from 'kysely';
import { z } from 'zod';
import { keysetPage } from '../../db/query.js';
import { ADMIN_ROLES, assertOrganizationRole } from '../../domain/access/policy.js';
import { invite } from '../../domain/auth/accounts.js';
import { loadSsoSettings, updateSsoSettings } from '../../domain/auth/sso.js';
import { BadRequestError } from '../../domain/errors.js';
import { createServiceAccount, revokeServiceAccount, SERVICE_ACCOUNT_SCOPES } from '../../domain/auth/service-accounts.js';
import { dataBody, listBody } from '../openapi.js';
import { defineRoute } from '../route.js';
import { gid } from '../schemas.js';
import { email, loginContext } from './auth.js';

const orgParams = z.object({ organization_gid: gid });

export const inviteRoute = defineRoute({
  method: 'POST',
  path: '/organizations/{organization_gid}/invitations',
  scope: 'api',
  operationId: 'inviteToOrganization',
  summary: 'Invite someone by email (admins)',
  description: 'Emails a single-use invitation link that expires in 7 days.',
  tags: ['Organizations'],
  auth: 'user',
  request: { params: orgParams, body: z.object({ email, role: z.enum(['admin', 'member', 'guest']) }) },
  responses: { 201: { description: 'Invitation sent', schema: dataBody(z.object({ gid, resource_type: z.literal('invitation'), email: z.string(), role: z.string(), expires_at: z.string() })) } },
  async handle({ principal, params, body, meta, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ADMIN_ROLES, 'invite people');
    const sent = await invite(deps, { organizationGid: params.organization_gid, email: body.email, role: body.role, inviter: principal.user }, loginContext(meta));
    return { kind: 'data', status: 201, data: { gid: sent.gid, resource_type: 'invitation', email: sent.email, role: sent.role, expires_at: sent.expires_at.toISOString() } };
  },
});

const serviceAccountSchema = z
  .object({ gid, resource_type: z.literal('service_account'), name: z.string(), scopes: z.array(z.string()), created_at: z.string(), last_used_at: z.string().nullable().optional() })
  .meta({ id: 'ServiceAccount' });

export const createServiceAccountRoute = defineRoute({
  method: 'POST',
  path: '/organizations/{organization_gid}/service_accounts',
  scope: 'api',
  operationId: 'createServiceAccount',
  summary: 'Create a service account (super admins)',
  description: 'The token is returned once, in data.token; only its hash is stored. A service account can do only what its scopes allow and never logs in.',
  tags: ['Service accounts'],
  auth: 'user',
  request: { params: orgParams, body: z.object({ name: z.string().trim().min(1).max(256), scopes: z.array(z.enum(SERVICE_ACCOUNT_SCOPES)).min(1).max(10) }) },
  responses: { 201: { description: 'Created', schema: dataBody(serviceAccountSchema.extend({ token: z.string() })) } },
  async handle({ principal, params, body, meta, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ['super_admin'], 'manage service accounts');
    const sa = await createServiceAccount(deps, { organizationGid: params.organization_gid, name: body.name, scopes: body.scopes, creatorGid: principal.user.gid, ip: meta.sourceIp, userAgent: meta.userAgent });
    return { kind: 'data', status: 201, data: { gid: sa.gid, resource_type: 'service_account', name: sa.name, scopes: sa.scopes, created_at: sa.created_at.toISOString(), token: sa.token } };
  },
});

export const listServiceAccountsRoute = defineRoute({
  method: 'GET',
  path: '/organizations/{organization_gid}/service_accounts',
  scope: 'api',
  operationId: 'listServiceAccounts',
  summary: 'List service accounts (super admins); tokens are never shown again',
  tags: ['Service accounts'],
  auth: 'user',
  request: { params: orgParams },
  responses: { 200: { description: 'Active service accounts', schema: listBody(serviceAccountSchema) } },
  async handle({ principal, params, page, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ['super_admin'], 'manage service accounts');
    const base = deps.database.db.selectFrom('service_accounts').select(['gid', 'name', 'scopes', 'created_at', 'last_used_at']).where('organization_gid', '=', params.organization_gid).where('revoked_at', 'is', null);
    const result = await keysetPage(deps.database.db, base, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
    return {
      kind: 'list',
      next: result.next,
      data: result.rows.map((r) => ({ gid: r.gid, resource_type: 'service_account', name: r.name, scopes: r.scopes.split(','), created_at: r.created_at.toISOString(), last_used_at: r.last_used_at?.toISOString() ?? null })),
    };
  },
});

export const revokeServiceAccountRoute = defineRoute({
  method: 'DELETE',
  path: '/organizations/{organization_gid}/service_accounts/{service_account_gid}',
  scope: 'api',
  operationId: 'revokeServiceAccount',
  summary: 'Revoke a service account (super admins)',
  tags: ['Service accounts'],
  auth: 'user',
  request: { params: orgParams.extend({ service_account_gid: gid }) },
  responses: { 200: { description: 'Revoked', schema: dataBody(z.object({})) } },
  async handle({ principal, params, meta, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ['super_admin'], 'manage service accounts');
    await revokeServiceAccount(deps, { organizationGid: params.organization_gid, gid: params.service_account_gid, actorGid: principal.user.gid, ip: meta.sourceIp, userAgent: meta.userAgent });
    return { kind: 'data', data: {} };
  },
});

const auditEventSchema = z
  .object({
    gid,
    created_at: z.string(),
    event_type: z.string(),
    event_category: z.string(),
    actor: z.object({ actor_type: z.enum(['user', 'asana', 'anonymous']), gid: z.string().optional(), name: z.string().optional(), email: z.string().optional() }),
    resource: z.object({ resource_type: z.string(), gid: z.string(), name: z.string().optional(), email: z.string().optional() }).optional(),
    details: z.record(z.string(), z.unknown()),
    context: z.object({ context_type: z.literal('api'), api_authentication_method: z.string().optional(), client_ip_address: z.string().optional(), user_agent: z.string().optional() }),
  })
  .meta({ id: 'AuditLogEvent' });

const isoDate = z.iso.datetime({ offset: true });

export const auditLogRoute = defineRoute({
  method: 'GET',
  path: '/workspaces/{workspace_gid}/audit_log_events',
  scope: 'api',
  operationId: 'getAuditLogEvents',
  summary: 'Security events of an organization, oldest first (super admins)',
  tags: ['Audit log API'],
  auth: 'user',
  request: {
    params: z.object({ workspace_gid: gid }),
    query: z.object({
      start_at: isoDate.optional(),
      end_at: isoDate.optional(),
      event_type: z.string().max(100).optional(),
      actor_type: z.enum(['user', 'asana', 'anonymous']).optional(),
      actor_gid: gid.optional(),
      resource_gid: gid.optional(),
    }),
  },
  responses: { 200: { description: 'Events', schema: listBody(auditEventSchema) } },
  async handle({ principal, params, query, page, deps }) {
    const db = deps.database.db;
    await assertOrganizationRole(db, principal, params.workspace_gid, ['super_admin'], 'read the audit log');
    let base = db
      .selectFrom('audit_log_events as e')
      .leftJoin('users as au', (j) => j.onRef('au.gid', '=', 'e.actor_gid').on('e.actor_type', '=', 'user'))
      .leftJoin('service_accounts as sa', (j) => j.onRef('sa.gid', '=', 'e.actor_gid').on('e.actor_type', '=', 'service_account'))
      .select(['e.gid', 'e.created_at', 'e.event_type', 'e.event_category', 'e.actor_type', 'e.actor_gid', 'e.resource_type', 'e.resource_gid', 'e.ip_address', 'e.user_agent', 'e.details'])
      .select([sql<string | null>`coalesce(au.name, sa.name)`.as('actor_name'), 'au.email as actor_email'])
      .where('e.organization_gid', '=', params.workspace_gid);
    if (query.start_at) base = base.where('e.created_at', '>=', new Date(query.start_at));
    if (query.end_at) base = base.where('e.created_at', '<', new Date(query.end_at));
    if (query.event_type) base = base.where('e.event_type', '=', query.event_type);
    if (query.actor_type) base = base.where('e.actor_type', 'in', query.actor_type === 'user' ? ['user', 'service_account'] : query.actor_type === 'asana' ? ['system'] : ['anonymous']);
    if (query.actor_gid) base = base.where('e.actor_gid', '=', query.actor_gid);
    if (query.resource_gid) base = base.where('e.resource_gid', '=', query.resource_gid);
    const result = await keysetPage(db, base, { keys: [{ column: 'created_at' }, { column: 'gid' }], limit: page.limit, after: page.offset });
    return {
      kind: 'list',
      next: result.next,
      data: result.rows.map((e) => ({
        gid: e.gid,
        created_at: e.created_at.toISOString(),
        event_type: e.event_type,
        event_category: e.event_category,
        actor:
          e.actor_type === 'anonymous' ? { actor_type: 'anonymous' } : e.actor_type === 'system' ? { actor_type: 'asana' } : { actor_type: 'user', gid: e.actor_gid ?? undefined, name: e.actor_name ?? undefined, email: e.actor_email ?? undefined },
        ...(e.resource_type && e.resource_gid ? { resource: { resource_type: e.resource_type, gid: e.resource_gid } } : {}),
        details: e.details,
        context: {
          context_type: 'api',
          ...(e.actor_type === 'service_account' ? { api_authentication_method: 'service_account' } : {}),
          ...(e.ip_address ? { client_ip_address: e.ip_address } : {}),
          ...(e.user_agent ? { user_agent: e.user_agent } : {}),
        },
      })),
    };
  },
});


const ssoSettingsSchema = z
  .object({
    required: z.boolean(),
    oidc: z.object({ issuer: z.string(), client_id: z.string() }).nullable(),
    saml: z.object({ idp_entity_id: z.string(), idp_sso_url: z.string(), sp_metadata_url: z.string() }).nullable(),
    oidc_redirect_uri: z.string(),
  })
  .meta({ id: 'SsoSettings' });

async function ssoSettingsAnswer(deps: Parameters<typeof loadSsoSettings>[0], organizationGid: string, baseUrl: string) {
  const settings = await loadSsoSettings(deps, organizationGid);
  return {
    required: settings.required,
    oidc: settings.oidc ? { issuer: settings.oidc.issuer, client_id: settings.oidc.clientId } : null,
    saml: settings.saml ? { idp_entity_id: settings.saml.idpEntityId, idp_sso_url: settings.saml.idpSsoUrl, sp_metadata_url: `${baseUrl}/api/1.0/auth/saml/${organizationGid}/metadata` } : null,
    oidc_redirect_uri: `${baseUrl}/api/1.0/auth/oidc/callback`,
  };
}

export const getSsoSettingsRoute = defineRoute({
  method: 'GET',
  path: '/organizations/{organization_gid}/sso',
  scope: 'api',
  operationId: 'getSsoSettings',
  summary: 'Single sign-on settings (super admins); the client secret is never shown',
  tags: ['Organizations'],
  auth: 'user',
  request: { params: orgParams },
  responses: { 200: { description: 'Settings', schema: dataBody(ssoSettingsSchema) } },
  async handle({ principal, params, meta, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ['super_admin'], 'manage single sign-on');
    return { kind: 'data', data: await ssoSettingsAnswer(deps, params.organization_gid, meta.baseUrl) };
  },
});

const httpsUrl = z.url({ protocol: /^https?$/ }).max(2048);

export const updateSsoSettingsRoute = defineRoute({
  method: 'PUT',
  path: '/organizations/{organization_gid}/sso',
  scope: 'api',
  operationId: 'updateSsoSettings',
  summary: 'Configure OpenID Connect and SAML 2.0 sign-on, and whether it is required (super admins)',
  description: 'With required: true, members cannot log in with a password. A null provider removes it; an absent one is left as it is.',
  tags: ['Organizations'],
  auth: 'user',
  request: {
    params: orgParams,
    body: z.object({
      required: z.boolean().optional(),
      oidc: z.object({ issuer: httpsUrl, client_id: z.string().min(1).max(512), client_secret: z.string().min(1).max(4096) }).nullable().optional(),
      saml: z.object({ idp_entity_id: z.string().min(1).max(1024), idp_sso_url: httpsUrl, idp_certificate: z.string().min(100).max(20_000) }).nullable().optional(),
    }),
  },
  responses: { 200: { description: 'Settings', schema: dataBody(ssoSettingsSchema) } },
  async handle({ principal, params, body, meta, deps }) {
    await assertOrganizationRole(deps.database.db, principal, params.organization_gid, ['super_admin'], 'manage single sign-on');
    if (body.required) {
      const current = await loadSsoSettings(deps, params.organization_gid);
      const oidc = body.oidc === undefined ? current.oidc : body.oidc;
      const saml = body.saml === undefined ? current.saml : body.saml;
      if (!oidc && !saml) throw new BadRequestError('Configure an OpenID Connect or SAML provider before requiring single sign-on');
    }
    await updateSsoSettings(
      deps,
      params.organization_gid,
      {
        ...(body.required !== undefined ? { required: body.required } : {}),
        ...(body.oidc !== undefined ? { oidc: body.oidc && { issuer: body.oidc.issuer, clientId: body.oidc.client_id, clientSecret: body.oidc.client_secret } } : {}),
        ...(body.saml !== undefined ? { saml: body.saml && { idpEntityId: body.saml.idp_entity_id, idpSsoUrl: body.saml.idp_sso_url, idpCertificate: body.saml.idp_certificate } } : {}),
      },
      { gid: principal.user.gid, ip: meta.sourceIp, userAgent: meta.userAgent },
    );
    return { kind: 'data', data: await ssoSettingsAnswer(deps, params.organization_gid, meta.baseUrl) };
  },
});


export const adminRoutes = [inviteRoute, createServiceAccountRoute, listServiceAccountsRoute, revokeServiceAccountRoute, auditLogRoute, getSsoSettingsRoute, updateSsoSettingsRoute];
