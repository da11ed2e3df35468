/**
 * Sessions and the one login-completion path every login method goes through
 * (password, OIDC, SAML, sign-up, invitation): it creates the session, records the
 * login, and decides in the same transaction whether the browser + IP combination is
 * new, in which case the alert email is written to the outbox with the session.
 */
import type { Kysely } from 'kysely';
import type { DB, SessionMethod, User } from '../../db/schema.js';
import { recordUserAudit } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { UnauthorizedError } from '../errors.js';
import { enqueueMail, pokeMailWorker } from '../mail.js';
import { comboHmac, parseUserAgent } from './devices.js';
import { loginAlertEmail, type AlertMethod } from './emails.js';
import { hashToken, looksLikeToken, newToken } from './tokens.js';

export interface LoginContext {
  ip: string;
  userAgent: string;
  /** Public origin for links in emails. */
  baseUrl: string;
}

export interface IssuedSession {
  token: string;
  sessionGid: string;
  expiresAt: Date;
  user: User;
  /** True when this browser + IP combination was new for the user. */
  newCombination: boolean;
}

export const notMeUrl = (baseUrl: string, token: string) => `${baseUrl}/api/1.0/auth/not-me?token=${token}`;

/**
 * Creates a session for a user who has proven who they are. Runs in its own
 * transaction; the alert (if any) is committed with the session and delivered after.
 */
export async function completeLogin(deps: AppDeps, input: { user: User; method: SessionMethod; ctx: LoginContext }): Promise<IssuedSession> {
  const { hmacKey } = await deps.secrets.get();
  const now = deps.clock.now();
  const token = newToken();
  const sessionGid = deps.ids.gid();
  const expiresAt = new Date(now.getTime() + deps.config.auth.sessionAbsoluteSeconds * 1000);
  const device = parseUserAgent(input.ctx.userAgent);
  const alertable = input.method === 'password' || input.method === 'oidc' || input.method === 'saml';

  const { outboxGid, isNew } = await deps.database.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('sessions')
      .values({
        gid: sessionGid,
        user_gid: input.user.gid,
        token_hash: hashToken(token),
        method: input.method,
        created_at: now,
        last_used_at: now,
        expires_at: expiresAt,
        ip_address: input.ctx.ip || null,
        user_agent: input.ctx.userAgent.slice(0, 512) || null,
      })
      .execute();
    // Exactly one concurrent login from a new combination inserts the row and alerts.
    const inserted = await trx
      .insertInto('known_logins')
      .values({ user_gid: input.user.gid, combo_hmac: comboHmac(hmacKey, device, input.ctx.ip), first_seen_at: now })
      .onConflict((oc) => oc.columns(['user_gid', 'combo_hmac']).doNothing())
      .returning('combo_hmac')
      .executeTakeFirst();
    const isNew = inserted !== undefined;
    const loginGid = deps.ids.gid();
    await trx
      .insertInto('login_events')
      .values({ gid: loginGid, user_gid: input.user.gid, session_gid: sessionGid, method: input.method, created_at: now, browser: device.browser, os: device.os, ip_address: input.ctx.ip || null, was_new: isNew })
      .execute();
    await recordUserAudit(trx, deps, input.user.gid, {
      type: 'user_login_succeeded',
      category: 'logins',
      actor: { type: 'user', gid: input.user.gid },
      resource: { type: 'user', gid: input.user.gid },
      ip: input.ctx.ip,
      userAgent: input.ctx.userAgent,
      details: { method: input.method, new_browser_and_ip: isNew },
    });
    let outboxGid: string | null = null;
    if (isNew && alertable) {
      const notMe = newToken();
      await trx
        .insertInto('one_time_tokens')
        .values({ token_hash: hashToken(notMe), purpose: 'not_me', user_gid: input.user.gid, session_gid: sessionGid, created_at: now, expires_at: new Date(now.getTime() + deps.config.auth.notMeSeconds * 1000) })
        .execute();
      outboxGid = await enqueueMail(
        trx,
        deps,
        loginAlertEmail({ to: input.user.email, name: input.user.name, at: now, browser: device.browser, os: device.os, ip: input.ctx.ip, method: input.method as AlertMethod, notMeUrl: notMeUrl(input.ctx.baseUrl, notMe) }),
        `login-alert:${loginGid}`,
      );
    }
    return { outboxGid, isNew };
  });
  await pokeMailWorker(deps, [outboxGid]);
  return { token, sessionGid, expiresAt, user: input.user, newCombination: isNew };
}

export type Principal =
  | { kind: 'user'; user: User; sessionGid: string }
  | { kind: 'service_account'; gid: string; organizationGid: string; scopes: string[]; name: string };

/**
 * Resolves a bearer secret to a principal: a live user session (absolute and idle
 * expiry checked) or an unrevoked service account. Null when it is neither.
 */
export async function authenticate(deps: Pick<AppDeps, 'database' | 'clock' | 'config'>, token: string): Promise<Principal | null> {
  if (!looksLikeToken(token)) return null;
  const db = deps.database.db;
  const now = deps.clock.now();
  const hash = hashToken(token);
  const session = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.gid', 's.user_gid')
    .selectAll('u')
    .select(['s.gid as session_gid', 's.last_used_at', 's.expires_at', 's.revoked_at'])
    .where('s.token_hash', '=', hash)
    .where('u.deleted_at', 'is', null)
    .executeTakeFirst();
  if (session) {
    const idleLimit = now.getTime() - deps.config.auth.sessionIdleSeconds * 1000;
    if (session.revoked_at || session.expires_at <= now || session.last_used_at.getTime() <= idleLimit) return null;
    // Record use at most once a minute: no write per request.
    if (now.getTime() - session.last_used_at.getTime() > 60_000) {
      await db.updateTable('sessions').set({ last_used_at: now }).where('gid', '=', session.session_gid).execute();
    }
    const { session_gid, last_used_at, expires_at, revoked_at, ...user } = session;
    return { kind: 'user', user, sessionGid: session_gid };
  }
  const account = await db
    .selectFrom('service_accounts as a')
    .innerJoin('organizations as o', 'o.gid', 'a.organization_gid')
    .select(['a.gid', 'a.organization_gid', 'a.scopes', 'a.name', 'a.last_used_at'])
    .where('a.token_hash', '=', hash)
    .where('a.revoked_at', 'is', null)
    .where('o.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!account) return null;
  if (!account.last_used_at || now.getTime() - account.last_used_at.getTime() > 60_000) {
    await db.updateTable('service_accounts').set({ last_used_at: now }).where('gid', '=', account.gid).execute();
  }
  return { kind: 'service_account', gid: account.gid, organizationGid: account.organization_gid, scopes: account.scopes.split(',').filter(Boolean), name: account.name };
}

export async function requireUser(deps: Pick<AppDeps, 'database' | 'clock' | 'config'>, token: string): Promise<Extract<Principal, { kind: 'user' }>> {
  const principal = await authenticate(deps, token);
  if (!principal || principal.kind !== 'user') throw new UnauthorizedError();
  return principal;
}

/** Revokes sessions of a user (all, or all but one). */
export async function revokeSessions(db: Kysely<DB>, input: { userGid: string; now: Date; reason: string; exceptGid?: string; onlyGid?: string }): Promise<number> {
  let q = db.updateTable('sessions').set({ revoked_at: input.now, revoked_reason: input.reason }).where('user_gid', '=', input.userGid).where('revoked_at', 'is', null);
  if (input.exceptGid) q = q.where('gid', '!=', input.exceptGid);
  if (input.onlyGid) q = q.where('gid', '=', input.onlyGid);
  const rows = await q.returning('gid').execute();
  return rows.length;
}

/** Clears raw IP addresses older than the retention period from the login history and sessions. */
export async function purgeLoginIps(db: Kysely<DB>, now: Date, retentionDays: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const events = await db.updateTable('login_events').set({ ip_address: null, ip_purged_at: now }).where('ip_address', 'is not', null).where('created_at', '<', cutoff).returning('gid').execute();
  await db.updateTable('sessions').set({ ip_address: null }).where('ip_address', 'is not', null).where('created_at', '<', cutoff).execute();
  return events.length;
}
