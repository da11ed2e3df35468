/**
 * Single sign-on, shared by OIDC and SAML: per-organization settings, and turning a
 * verified external identity into a login. Users are keyed by (issuer, subject); the
 * first SSO login links an existing member of the organization by verified email.
 */
import type { Organization, SsoKind, User } from '../../db/schema.js';
import { users } from '../../db/repositories/users.js';
import type { AppDeps } from '../deps.js';
import { recordAudit } from '../audit.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { decryptField, encryptField } from './field-crypto.js';
import { completeLogin, type IssuedSession, type LoginContext } from './sessions.js';

const OIDC_SECRET_PURPOSE = 'oidc-client-secret';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

export interface SamlSettings {
  idpEntityId: string;
  idpSsoUrl: string;
  /** The IdP's signing certificate (PEM or base64 DER). */
  idpCertificate: string;
}

export interface SsoSettings {
  organization: Organization;
  required: boolean;
  oidc: OidcSettings | null;
  saml: SamlSettings | null;
}

export async function loadSsoSettings(deps: AppDeps, organizationGid: string): Promise<SsoSettings> {
  const org = await deps.database.db.selectFrom('organizations').selectAll().where('gid', '=', organizationGid).where('deleted_at', 'is', null).executeTakeFirst();
  if (!org) throw new NotFoundError('Organization not found');
  const { encryptionKey } = await deps.secrets.get();
  return {
    organization: org,
    required: org.sso_required,
    oidc:
      org.oidc_issuer && org.oidc_client_id && org.oidc_client_secret_enc
        ? { issuer: org.oidc_issuer, clientId: org.oidc_client_id, clientSecret: decryptField(encryptionKey, org.oidc_client_secret_enc, `${OIDC_SECRET_PURPOSE}:${org.gid}`) }
        : null,
    saml: org.saml_idp_entity_id && org.saml_idp_sso_url && org.saml_idp_certificate ? { idpEntityId: org.saml_idp_entity_id, idpSsoUrl: org.saml_idp_sso_url, idpCertificate: org.saml_idp_certificate } : null,
  };
}

export interface SsoSettingsUpdate {
  required?: boolean;
  oidc?: OidcSettings | null;
  saml?: SamlSettings | null;
}

export async function updateSsoSettings(deps: AppDeps, organizationGid: string, update: SsoSettingsUpdate, actor: { gid: string; ip: string; userAgent: string }): Promise<void> {
  const { encryptionKey } = await deps.secrets.get();
  const now = deps.clock.now();
  const set: Record<string, unknown> = { modified_at: now };
  if (update.required !== undefined) set.sso_required = update.required;
  if (update.oidc !== undefined) {
    set.oidc_issuer = update.oidc?.issuer ?? null;
    set.oidc_client_id = update.oidc?.clientId ?? null;
    set.oidc_client_secret_enc = update.oidc ? encryptField(encryptionKey, update.oidc.clientSecret, `${OIDC_SECRET_PURPOSE}:${organizationGid}`) : null;
  }
  if (update.saml !== undefined) {
    set.saml_idp_entity_id = update.saml?.idpEntityId ?? null;
    set.saml_idp_sso_url = update.saml?.idpSsoUrl ?? null;
    set.saml_idp_certificate = update.saml?.idpCertificate ?? null;
  }
  await deps.database.db.transaction().execute(async (trx) => {
    await trx.updateTable('organizations').set(set).where('gid', '=', organizationGid).execute();
    await recordAudit(trx, deps, {
      organizationGid,
      type: 'organization_sso_settings_changed',
      category: 'admin_settings',
      actor: { type: 'user', gid: actor.gid },
      resource: { type: 'workspace', gid: organizationGid },
      ip: actor.ip,
      userAgent: actor.userAgent,
      details: { required: update.required, oidc: update.oidc === undefined ? 'unchanged' : update.oidc ? { issuer: update.oidc.issuer, client_id: update.oidc.clientId } : null, saml: update.saml === undefined ? 'unchanged' : update.saml ? { idp_entity_id: update.saml.idpEntityId } : null },
    });
  });
}

export interface ExternalIdentity {
  kind: SsoKind;
  organizationGid: string;
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name?: string | null;
}

/**
 * Finds the user of an external identity, linking it on first use to the organization
 * member with the same, verified email. Refuses identities that match no member.
 */
export async function resolveSsoUser(deps: AppDeps, identity: ExternalIdentity): Promise<User> {
  const db = deps.database.db;
  const linked = await db
    .selectFrom('user_identities as i')
    .innerJoin('users as u', 'u.gid', 'i.user_gid')
    .selectAll('u')
    .where('i.organization_gid', '=', identity.organizationGid)
    .where('i.issuer', '=', identity.issuer)
    .where('i.subject', '=', identity.subject)
    .where('u.deleted_at', 'is', null)
    .executeTakeFirst();
  const member = async (user: User) =>
    db.selectFrom('organization_memberships').select('gid').where('organization_gid', '=', identity.organizationGid).where('user_gid', '=', user.gid).where('removed_at', 'is', null).executeTakeFirst();
  if (linked) {
    if (!(await member(linked))) throw new ForbiddenError('This account is not a member of the organization');
    return linked;
  }
  if (!identity.email || !identity.emailVerified) throw new ForbiddenError('Your identity provider did not confirm a verified email address, so the account cannot be linked');
  const user = await users.findByEmail(db, identity.email);
  if (!user || !(await member(user))) throw new ForbiddenError('No member of this organization has that email address; ask an admin to invite you');
  // Sessions are not limited to one organization: an identity provider controlled by one
  // organization's admins must not be able to open an account that also holds another
  // organization's data. Linking by email is therefore allowed only for users who belong
  // to this organization alone.
  const elsewhere = await db
    .selectFrom('organization_memberships')
    .select('organization_gid')
    .where('user_gid', '=', user.gid)
    .where('organization_gid', '!=', identity.organizationGid)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
  if (elsewhere) throw new ForbiddenError('This account also belongs to another organization, so it cannot be linked to single sign-on by email; log in with your password');
  await db
    .insertInto('user_identities')
    .values({ gid: deps.ids.gid(), user_gid: user.gid, organization_gid: identity.organizationGid, kind: identity.kind, issuer: identity.issuer, subject: identity.subject, created_at: deps.clock.now() })
    .onConflict((oc) => oc.columns(['organization_gid', 'issuer', 'subject']).doNothing())
    .execute();
  return user;
}

/** An SSO login: resolve (or link) the user, then the common login path (alerts included). */
export async function completeSsoLogin(deps: AppDeps, identity: ExternalIdentity, ctx: LoginContext): Promise<IssuedSession> {
  const user = await resolveSsoUser(deps, identity);
  return completeLogin(deps, { user, method: identity.kind, ctx });
}
