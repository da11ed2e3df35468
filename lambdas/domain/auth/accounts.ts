/**
 * Account use cases: sign-up, password login, logout, invitations, "This wasn't me",
 * password reset and change. Every answer that could tell an attacker whether an email
 * has an account is the same for both cases, in body, status and timing.
 */
import type { Kysely } from 'kysely';
import type { DB, Role, User } from '../../db/schema.js';
import { organizations } from '../../db/repositories/organizations.js';
import { users } from '../../db/repositories/users.js';
import { isUniqueViolation } from '../../db/query.js';
import { recordAudit, recordUserAudit } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { BadRequestError, ConflictError, ForbiddenError, GoneError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import { enqueueMail, pokeMailWorker } from '../mail.js';
import { invitationEmail, passwordResetEmail } from './emails.js';
import { decoyHash, hashPassword, needsRehash, passwordProblem, verifyPassword } from './passwords.js';
import { completeLogin, revokeSessions, type IssuedSession, type LoginContext } from './sessions.js';
import { clearFailures, recordFailure, retryAfterSeconds, throttleKeys } from './throttle.js';
import { hashToken, looksLikeToken, newToken } from './tokens.js';

/** The one answer to a failed login, whatever failed. */
const BAD_CREDENTIALS = 'The email or password is not correct';

function assertPassword(password: string, context: { email?: string; name?: string }) {
  const problem = passwordProblem(password, context);
  if (problem) throw new BadRequestError('Invalid password', [{ message: `data.password: ${problem}` }]);
}

const decoys = new Map<string, Promise<string>>();
function decoyFor(deps: AppDeps): Promise<string> {
  const key = JSON.stringify(deps.config.auth.scrypt);
  let decoy = decoys.get(key);
  if (!decoy) decoys.set(key, (decoy = decoyHash(deps.config.auth.scrypt)));
  return decoy;
}

export async function signup(deps: AppDeps, input: { email: string; password: string; name: string; organization_name: string }, ctx: LoginContext) {
  assertPassword(input.password, input);
  const passwordHash = await hashPassword(input.password, deps.config.auth.scrypt);
  const now = deps.clock.now();
  const orgGid = deps.ids.gid();
  const userGid = deps.ids.gid();
  let user: User;
  try {
    user = await deps.database.db.transaction().execute(async (trx) => {
      const created = await users.create(trx, { gid: userGid, email: input.email.trim(), name: input.name.trim(), now });
      await trx.updateTable('users').set({ password_hash: passwordHash, password_changed_at: now }).where('gid', '=', userGid).execute();
      await organizations.create(trx, { gid: orgGid, name: input.organization_name.trim(), plan: deps.config.defaultPlan, now });
      await organizations.addMember(trx, { gid: deps.ids.gid(), organizationGid: orgGid, userGid, role: 'super_admin', now });
      await recordAudit(trx, deps, { organizationGid: orgGid, type: 'user_created', category: 'user_access', actor: { type: 'user', gid: userGid }, resource: { type: 'user', gid: userGid }, ip: ctx.ip, userAgent: ctx.userAgent });
      return created;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('An account with this email already exists; log in instead');
    throw error;
  }
  // The sign-up's browser + IP become known: its first session sends no alert.
  const session = await completeLogin(deps, { user, method: 'signup', ctx });
  const organization = (await organizations.get(deps.database.db, orgGid))!;
  return { session, organization };
}

export async function passwordLogin(deps: AppDeps, input: { email: string; password: string }, ctx: LoginContext): Promise<IssuedSession> {
  const db = deps.database.db;
  const now = deps.clock.now();
  const { hmacKey } = await deps.secrets.get();
  const keys = throttleKeys(hmacKey, input.email, ctx.ip);
  const wait = await retryAfterSeconds(db, keys, now);
  if (wait > 0) throw new TooManyRequestsError(wait, 'Too many failed login attempts; try again later');

  const user = await users.findByEmail(db, input.email.trim());
  const stored = user ? await db.selectFrom('users').select('password_hash').where('gid', '=', user.gid).executeTakeFirst() : undefined;
  // Unknown email, SSO-only account, or wrong password: the same work and the same answer.
  const hash = stored?.password_hash ?? (await decoyFor(deps));
  const ok = (await verifyPassword(input.password, hash)) && Boolean(user && stored?.password_hash);
  if (!ok || !user) {
    await recordFailure(db, keys, now, deps.config.auth);
    if (user) await recordUserAudit(db, deps, user.gid, { type: 'user_login_failed', category: 'logins', actor: { type: 'anonymous' }, resource: { type: 'user', gid: user.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { method: 'password' } });
    throw new UnauthorizedError(BAD_CREDENTIALS);
  }
  await clearFailures(db, keys[0]!);
  // Only someone who knows the password learns about these.
  const ssoOnly = await db
    .selectFrom('organization_memberships as m')
    .innerJoin('organizations as o', 'o.gid', 'm.organization_gid')
    .select('o.name')
    .where('m.user_gid', '=', user.gid)
    .where('m.removed_at', 'is', null)
    .where('o.sso_required', '=', true)
    .executeTakeFirst();
  if (ssoOnly) throw new ForbiddenError(`${ssoOnly.name} requires single sign-on; log in through your identity provider`);
  const flags = await db.selectFrom('users').select('must_reset_password').where('gid', '=', user.gid).executeTakeFirstOrThrow();
  if (flags.must_reset_password) throw new ForbiddenError('You must choose a new password first; use the link we emailed you (or POST /auth/password_reset)');
  if (needsRehash(hash, deps.config.auth.scrypt)) {
    await db.updateTable('users').set({ password_hash: await hashPassword(input.password, deps.config.auth.scrypt) }).where('gid', '=', user.gid).execute();
  }
  return completeLogin(deps, { user, method: 'password', ctx });
}

export async function logout(deps: AppDeps, principal: { user: User; sessionGid: string }, ctx: LoginContext): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (trx) => {
    await revokeSessions(trx, { userGid: principal.user.gid, now, reason: 'logout', onlyGid: principal.sessionGid });
    await recordUserAudit(trx, deps, principal.user.gid, { type: 'user_logged_out', category: 'logins', actor: { type: 'user', gid: principal.user.gid }, resource: { type: 'session', gid: principal.sessionGid }, ip: ctx.ip, userAgent: ctx.userAgent });
  });
}

/** Consumes a single-use token of a purpose; null if unknown, used or expired. */
async function consumeToken(db: Kysely<DB>, token: string, purpose: 'invitation' | 'not_me' | 'password_reset', now: Date) {
  if (!looksLikeToken(token)) return null;
  return (
    (await db
      .updateTable('one_time_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hashToken(token))
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst()) ?? null
  );
}

export async function invite(deps: AppDeps, input: { organizationGid: string; email: string; role: Exclude<Role, 'super_admin'>; inviter: User }, ctx: LoginContext): Promise<{ gid: string; email: string; role: string; expires_at: Date }> {
  const now = deps.clock.now();
  const token = newToken();
  const expiresAt = new Date(now.getTime() + deps.config.auth.invitationSeconds * 1000);
  const gid = deps.ids.gid();
  const outboxGid = await deps.database.db.transaction().execute(async (trx) => {
    const org = await organizations.get(trx, input.organizationGid);
    const existing = await users.findByEmail(trx, input.email);
    if (existing) {
      const member = await trx.selectFrom('organization_memberships').select('gid').where('organization_gid', '=', input.organizationGid).where('user_gid', '=', existing.gid).where('removed_at', 'is', null).executeTakeFirst();
      if (member) throw new ConflictError('That person is already a member of this organization');
    }
    await trx
      .insertInto('one_time_tokens')
      .values({ token_hash: hashToken(token), purpose: 'invitation', organization_gid: input.organizationGid, email: input.email.trim(), role: input.role, created_by: input.inviter.gid, created_at: now, expires_at: expiresAt })
      .execute();
    await recordAudit(trx, deps, { organizationGid: input.organizationGid, type: 'user_invited', category: 'user_access', actor: { type: 'user', gid: input.inviter.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { email: input.email, role: input.role, invitation_gid: gid } });
    return enqueueMail(trx, deps, invitationEmail({ to: input.email.trim(), organizationName: org!.name, inviterName: input.inviter.name, role: input.role, acceptUrl: `${ctx.baseUrl}/api/1.0/auth/invitations/accept?token=${token}` }));
  });
  await pokeMailWorker(deps, [outboxGid]);
  return { gid, email: input.email.trim(), role: input.role, expires_at: expiresAt };
}

export async function acceptInvitation(deps: AppDeps, input: { token: string; name: string; password: string }, ctx: LoginContext) {
  const now = deps.clock.now();
  const db = deps.database.db;
  const result = await db.transaction().execute(async (trx) => {
    const invitation = await consumeToken(trx, input.token, 'invitation', now);
    if (!invitation) throw new GoneError('This invitation is not valid: it was used, it expired, or the link is incomplete');
    let user = await users.findByEmail(trx, invitation.email!);
    if (user) {
      // An existing account joins with its own credentials; the password must match.
      const stored = await trx.selectFrom('users').select('password_hash').where('gid', '=', user.gid).executeTakeFirstOrThrow();
      if (!stored.password_hash || !(await verifyPassword(input.password, stored.password_hash))) throw new UnauthorizedError('Log in with your existing password to accept');
    } else {
      assertPassword(input.password, { email: invitation.email!, name: input.name });
      user = await users.create(trx, { gid: deps.ids.gid(), email: invitation.email!, name: input.name.trim(), now });
      await trx.updateTable('users').set({ password_hash: await hashPassword(input.password, deps.config.auth.scrypt), password_changed_at: now }).where('gid', '=', user.gid).execute();
    }
    // One membership row per organization and person: someone removed earlier is reinstated,
    // someone already in keeps their role (an invitation never changes it).
    const previous = await trx.selectFrom('organization_memberships').select(['gid', 'removed_at']).where('organization_gid', '=', invitation.organization_gid!).where('user_gid', '=', user.gid).executeTakeFirst();
    if (!previous) await organizations.addMember(trx, { gid: deps.ids.gid(), organizationGid: invitation.organization_gid!, userGid: user.gid, role: invitation.role!, now });
    else if (previous.removed_at) await trx.updateTable('organization_memberships').set({ removed_at: null, role: invitation.role!, modified_at: now }).where('gid', '=', previous.gid).execute();
    // An invitation sent through POST /teams/{gid}/addUser also joins the team (unless it was deleted since).
    const team = invitation.team_gid ? await trx.selectFrom('teams').select('gid').where('gid', '=', invitation.team_gid).where('deleted_at', 'is', null).executeTakeFirst() : undefined;
    if (team) {
      await trx
        .insertInto('team_memberships')
        .values({ gid: deps.ids.gid(), team_gid: team.gid, user_gid: user.gid, is_limited_access: false, is_admin: false, created_at: now })
        .onConflict((oc) => oc.columns(['team_gid', 'user_gid']).doNothing())
        .execute();
    }
    await recordAudit(trx, deps, { organizationGid: invitation.organization_gid, type: 'user_invitation_accepted', category: 'user_access', actor: { type: 'user', gid: user.gid }, resource: { type: 'user', gid: user.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { role: invitation.role, ...(team ? { team_gid: team.gid } : {}) } });
    return { user, organizationGid: invitation.organization_gid! };
  });
  const session = await completeLogin(deps, { user: result.user, method: 'invitation', ctx });
  return { session, organization: (await organizations.get(db, result.organizationGid))! };
}

/**
 * "This wasn't me": revokes the session the alert was about (and all sessions if asked),
 * forces a password reset for password users (emailing a reset link), and records a
 * security event. The token works once.
 */
export async function notMe(deps: AppDeps, input: { token: string; revoke_all?: boolean }, ctx: LoginContext) {
  const now = deps.clock.now();
  const result = await deps.database.db.transaction().execute(async (trx) => {
    const record = await consumeToken(trx, input.token, 'not_me', now);
    if (!record) throw new GoneError('This link is not valid: it was used, it expired, or it is incomplete');
    const userGid = record.user_gid!;
    const revoked = await revokeSessions(trx, { userGid, now, reason: 'not_me', ...(input.revoke_all ? {} : { onlyGid: record.session_gid! }) });
    const user = (await users.get(trx, userGid))!;
    const session = await trx.selectFrom('sessions').select('method').where('gid', '=', record.session_gid!).executeTakeFirstOrThrow();
    const passwordUser = session.method === 'password';
    let outboxGid: string | null = null;
    if (passwordUser) {
      await trx.updateTable('users').set({ must_reset_password: true }).where('gid', '=', userGid).execute();
      const reset = newToken();
      await trx.insertInto('one_time_tokens').values({ token_hash: hashToken(reset), purpose: 'password_reset', user_gid: userGid, created_at: now, expires_at: new Date(now.getTime() + deps.config.auth.passwordResetSeconds * 1000) }).execute();
      outboxGid = await enqueueMail(trx, deps, passwordResetEmail({ to: user.email, name: user.name, resetUrl: `${ctx.baseUrl}/api/1.0/auth/password_reset/complete?token=${reset}`, forced: true }));
    }
    await recordUserAudit(trx, deps, userGid, { type: 'user_reported_login_not_them', category: 'logins', actor: { type: 'user', gid: userGid }, resource: { type: 'session', gid: record.session_gid! }, ip: ctx.ip, userAgent: ctx.userAgent, details: { sessions_revoked: revoked, password_reset_required: passwordUser } });
    return { revoked, passwordUser, outboxGid, sessionGid: record.session_gid! };
  });
  await pokeMailWorker(deps, [result.outboxGid]);
  return { sessions_revoked: result.revoked, password_reset_required: result.passwordUser, session: result.sessionGid };
}

/** Always answers the same, whether or not the email has an account. */
export async function requestPasswordReset(deps: AppDeps, input: { email: string }, ctx: LoginContext): Promise<void> {
  const now = deps.clock.now();
  const outboxGid = await deps.database.db.transaction().execute(async (trx) => {
    const user = await users.findByEmail(trx, input.email.trim());
    if (!user) return null;
    const token = newToken();
    await trx.insertInto('one_time_tokens').values({ token_hash: hashToken(token), purpose: 'password_reset', user_gid: user.gid, created_at: now, expires_at: new Date(now.getTime() + deps.config.auth.passwordResetSeconds * 1000) }).execute();
    return enqueueMail(trx, deps, passwordResetEmail({ to: user.email, name: user.name, resetUrl: `${ctx.baseUrl}/api/1.0/auth/password_reset/complete?token=${token}`, forced: false }));
  });
  await pokeMailWorker(deps, [outboxGid]);
}

/** Sets a new password from a reset token; every session of the user is revoked. */
export async function completePasswordReset(deps: AppDeps, input: { token: string; password: string }, ctx: LoginContext): Promise<void> {
  const now = deps.clock.now();
  await deps.database.db.transaction().execute(async (trx) => {
    const record = await consumeToken(trx, input.token, 'password_reset', now);
    if (!record) throw new GoneError('This link is not valid: it was used, it expired, or it is incomplete');
    const user = (await users.get(trx, record.user_gid!))!;
    assertPassword(input.password, user);
    await trx.updateTable('users').set({ password_hash: await hashPassword(input.password, deps.config.auth.scrypt), password_changed_at: now, must_reset_password: false, modified_at: now }).where('gid', '=', user.gid).execute();
    await revokeSessions(trx, { userGid: user.gid, now, reason: 'password_reset' });
    await recordUserAudit(trx, deps, user.gid, { type: 'user_password_changed', category: 'user_access', actor: { type: 'user', gid: user.gid }, resource: { type: 'user', gid: user.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { via: 'reset' } });
  });
}

/** Changes the password of a logged-in user; their other sessions are revoked. */
export async function changePassword(deps: AppDeps, principal: { user: User; sessionGid: string }, input: { current_password: string; new_password: string }, ctx: LoginContext): Promise<number> {
  const now = deps.clock.now();
  const stored = await deps.database.db.selectFrom('users').select('password_hash').where('gid', '=', principal.user.gid).executeTakeFirstOrThrow();
  if (!stored.password_hash || !(await verifyPassword(input.current_password, stored.password_hash))) throw new ForbiddenError('The current password is not correct');
  const problem = passwordProblem(input.new_password, principal.user);
  if (problem) throw new BadRequestError('Invalid password', [{ message: `data.new_password: ${problem}` }]);
  const hash = await hashPassword(input.new_password, deps.config.auth.scrypt);
  return deps.database.db.transaction().execute(async (trx) => {
    await trx.updateTable('users').set({ password_hash: hash, password_changed_at: now, modified_at: now }).where('gid', '=', principal.user.gid).execute();
    const revoked = await revokeSessions(trx, { userGid: principal.user.gid, now, reason: 'password_changed', exceptGid: principal.sessionGid });
    await recordUserAudit(trx, deps, principal.user.gid, { type: 'user_password_changed', category: 'user_access', actor: { type: 'user', gid: principal.user.gid }, resource: { type: 'user', gid: principal.user.gid }, ip: ctx.ip, userAgent: ctx.userAgent, details: { other_sessions_revoked: revoked } });
    return revoked;
  });
}
