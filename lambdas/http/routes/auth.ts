/** Sign-up, password login, logout, invitations, "This wasn't me" and password reset. */
import { z } from 'zod';
import type { Organization, User } from '../../db/schema.js';
import { acceptInvitation, changePassword, completePasswordReset, logout, notMe, passwordLogin, requestPasswordReset, signup } from '../../domain/auth/accounts.js';
import type { IssuedSession, LoginContext } from '../../domain/auth/sessions.js';
import { clearedSessionCookie, sessionCookie } from '../cookies.js';
import { dataBody } from '../openapi.js';
import { html, page } from '../html.js';
import { defineRoute, type RequestMeta } from '../route.js';
import { gid } from '../schemas.js';

export const email = z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address');
/** Length rules live in the password policy; here only a hard cap against abuse. */
const password = z.string().min(1).max(1024);
const token = z.string().min(1).max(200);

export const loginContext = (meta: RequestMeta): LoginContext => ({ ip: meta.sourceIp, userAgent: meta.userAgent, baseUrl: meta.baseUrl });

const workspaceCompact = z.object({ gid, resource_type: z.literal('workspace'), name: z.string() }).meta({ id: 'WorkspaceCompact' });
export const userSchema = z
  .object({ gid, resource_type: z.literal('user'), name: z.string(), email: z.string(), photo: z.null(), workspaces: z.array(workspaceCompact).optional() })
  .meta({ id: 'User' });
const sessionAnswer = z.object({ token: z.string(), expires_at: z.string(), user: userSchema }).meta({ id: 'SessionToken' });

export const userCompact = (user: Pick<User, 'gid' | 'name' | 'email'>) => ({ gid: user.gid, resource_type: 'user' as const, name: user.name, email: user.email, photo: null });
export const workspaceCompactOf = (org: Pick<Organization, 'gid' | 'name'>) => ({ gid: org.gid, resource_type: 'workspace' as const, name: org.name });

export function sessionReply(session: IssuedSession, now: Date, status: number, extra: Record<string, unknown> = {}) {
  return {
    kind: 'data' as const,
    status,
    data: { token: session.token, expires_at: session.expiresAt.toISOString(), user: userCompact(session.user), ...extra },
    headers: { 'Set-Cookie': sessionCookie(session.token, session.expiresAt, now) },
  };
}

export const signupRoute = defineRoute({
  method: 'POST',
  path: '/auth/signup',
  scope: 'api',
  operationId: 'signUp',
  summary: 'Create an account and a new organization',
  description: 'Creates a user and an organization whose super admin they are, and returns a session. The browser and IP of the sign-up become known, so this first session sends no login alert.',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ email, password, name: z.string().trim().min(1).max(256), organization_name: z.string().trim().min(1).max(256) }) },
  responses: { 201: { description: 'Account created', schema: dataBody(sessionAnswer.extend({ organization: workspaceCompact })) } },
  async handle({ body, meta, deps }) {
    const { session, organization } = await signup(deps, body, loginContext(meta));
    return sessionReply(session, deps.clock.now(), 201, { organization: workspaceCompactOf(organization) });
  },
});

export const loginRoute = defineRoute({
  method: 'POST',
  path: '/auth/login',
  scope: 'api',
  operationId: 'logIn',
  summary: 'Log in with email and password',
  description: 'Returns a session token and sets the session cookie. Repeated failures slow down (429 with Retry-After). A login from a browser and IP address never used before emails the user.',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ email, password }) },
  responses: { 200: { description: 'Logged in', schema: dataBody(sessionAnswer) } },
  async handle({ body, meta, deps }) {
    return sessionReply(await passwordLogin(deps, body, loginContext(meta)), deps.clock.now(), 200);
  },
});

export const logoutRoute = defineRoute({
  method: 'POST',
  path: '/auth/logout',
  scope: 'api',
  operationId: 'logOut',
  summary: 'Revoke the current session',
  tags: ['Authentication'],
  auth: 'user',
  request: {},
  responses: { 200: { description: 'Logged out', schema: dataBody(z.object({})) } },
  async handle({ principal, meta, deps }) {
    await logout(deps, principal, loginContext(meta));
    return { kind: 'data', data: {}, headers: { 'Set-Cookie': clearedSessionCookie() } };
  },
});

export const acceptInvitationRoute = defineRoute({
  method: 'POST',
  path: '/auth/invitations/accept',
  scope: 'api',
  operationId: 'acceptInvitation',
  summary: 'Accept an invitation and get a session',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ token, name: z.string().trim().min(1).max(256), password }) },
  responses: { 201: { description: 'Joined', schema: dataBody(sessionAnswer.extend({ organization: workspaceCompact })) } },
  async handle({ body, meta, deps }) {
    const { session, organization } = await acceptInvitation(deps, body, loginContext(meta));
    return sessionReply(session, deps.clock.now(), 201, { organization: workspaceCompactOf(organization) });
  },
});

export const notMeRoute = defineRoute({
  method: 'POST',
  path: '/auth/not-me',
  scope: 'api',
  operationId: 'reportLoginNotMe',
  summary: "This wasn't me: sign out a session from a login alert",
  description: 'Consumes the one-time token from a login alert: revokes that session (or all sessions with revoke_all), requires password users to choose a new password (a reset link is emailed), and records a security event.',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ token, revoke_all: z.boolean().optional() }) },
  responses: { 200: { description: 'Secured', schema: dataBody(z.object({ sessions_revoked: z.number(), password_reset_required: z.boolean(), session: gid })) } },
  async handle({ body, meta, deps }) {
    return { kind: 'data', data: await notMe(deps, body, loginContext(meta)) };
  },
});

/**
 * The link in a login alert opens this page. A GET changes nothing (mail scanners
 * prefetch links); the button posts the form below.
 */
export const notMePageRoute = defineRoute({
  method: 'GET',
  path: '/auth/not-me',
  scope: 'api',
  operationId: 'showLoginNotMePage',
  summary: "The page a login alert's \"This wasn't me\" link opens",
  tags: ['Authentication'],
  auth: 'none',
  request: { query: z.object({ token }) },
  responses: { 200: { description: 'An HTML page with a confirmation button', contentType: 'text/html' } },
  async handle({ query }) {
    return page(
      "Wasn't you?",
      html`<p>If you did not log in just now, secure your account: we will sign that session out, and if you use a password you will be asked to choose a new one.</p>
<form method="post" action="not-me/confirm"><input type="hidden" name="token" value="${query.token}">
<p><label><input type="checkbox" name="revoke_all" value="true"> Also sign out all my other sessions</label></p>
<p><button type="submit">Secure my account</button></p></form>`,
    );
  },
});

export const notMeConfirmRoute = defineRoute({
  method: 'POST',
  path: '/auth/not-me/confirm',
  scope: 'api',
  operationId: 'confirmLoginNotMeForm',
  summary: "This wasn't me, from the HTML page (form post)",
  tags: ['Authentication'],
  auth: 'none',
  bodyFormat: 'form',
  request: { body: z.object({ token, revoke_all: z.enum(['true']).optional() }) },
  responses: { 200: { description: 'An HTML page saying what was done', contentType: 'text/html' } },
  async handle({ body, meta, deps }) {
    const done = await notMe(deps, { token: body.token, revoke_all: body.revoke_all === 'true' }, loginContext(meta));
    return page(
      'Your account is secured',
      html`<p>We signed out ${done.sessions_revoked} session${done.sessions_revoked === 1 ? '' : 's'}.</p>` +
        (done.password_reset_required
          ? html`<p>We emailed you a link to choose a new password; you need it before you can log in with a password again.</p>`
          : html`<p>You sign in through your organization's identity provider: tell its administrator, since your single sign-on account may be compromised.</p>`),
    );
  },
});

/** The invitation link opens a form (GET changes nothing). */
export const invitationPageRoute = defineRoute({
  method: 'GET',
  path: '/auth/invitations/accept',
  scope: 'api',
  operationId: 'showInvitationPage',
  summary: 'The page an invitation link opens',
  tags: ['Authentication'],
  auth: 'none',
  request: { query: z.object({ token }) },
  responses: { 200: { description: 'An HTML form to accept', contentType: 'text/html' } },
  async handle({ query }) {
    return page(
      'Accept your invitation',
      html`<form method="post" action="accept/confirm"><input type="hidden" name="token" value="${query.token}">
<p><label>Your name<br><input name="name" required maxlength="256" autocomplete="name"></label></p>
<p><label>Choose a password (at least 8 characters; or your existing password if you already have an account)<br><input type="password" name="password" required minlength="8" maxlength="128" autocomplete="new-password"></label></p>
<p><button type="submit">Join</button></p></form>`,
    );
  },
});

export const invitationConfirmRoute = defineRoute({
  method: 'POST',
  path: '/auth/invitations/accept/confirm',
  scope: 'api',
  operationId: 'acceptInvitationForm',
  summary: 'Accept an invitation from the HTML page (form post); sets the session cookie',
  tags: ['Authentication'],
  auth: 'none',
  bodyFormat: 'form',
  request: { body: z.object({ token, name: z.string().trim().min(1).max(256), password }) },
  responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
  async handle({ body, meta, deps }) {
    const { session, organization } = await acceptInvitation(deps, body, loginContext(meta));
    const done = page('Welcome', html`<p>You joined ${organization.name}. You are logged in in this browser.</p>`);
    return { ...done, headers: { ...done.headers, 'Set-Cookie': sessionCookie(session.token, session.expiresAt, deps.clock.now()) } };
  },
});

/** The password reset link opens a form (GET changes nothing). */
export const passwordResetPageRoute = defineRoute({
  method: 'GET',
  path: '/auth/password_reset/complete',
  scope: 'api',
  operationId: 'showPasswordResetPage',
  summary: 'The page a password reset link opens',
  tags: ['Authentication'],
  auth: 'none',
  request: { query: z.object({ token }) },
  responses: { 200: { description: 'An HTML form to choose a new password', contentType: 'text/html' } },
  async handle({ query }) {
    return page(
      'Choose a new password',
      html`<form method="post" action="complete/confirm"><input type="hidden" name="token" value="${query.token}">
<p><label>New password (at least 8 characters)<br><input type="password" name="password" required minlength="8" maxlength="128" autocomplete="new-password"></label></p>
<p><button type="submit">Save</button></p></form>`,
    );
  },
});

export const passwordResetConfirmRoute = defineRoute({
  method: 'POST',
  path: '/auth/password_reset/complete/confirm',
  scope: 'api',
  operationId: 'completePasswordResetForm',
  summary: 'Choose a new password from the HTML page (form post)',
  tags: ['Authentication'],
  auth: 'none',
  bodyFormat: 'form',
  request: { body: z.object({ token, password }) },
  responses: { 200: { description: 'An HTML page', contentType: 'text/html' } },
  async handle({ body, meta, deps }) {
    await completePasswordReset(deps, body, loginContext(meta));
    return page('Password changed', html`<p>Your new password is saved and every session was signed out. Log in again with the new password.</p>`);
  },
});

export const requestPasswordResetRoute = defineRoute({
  method: 'POST',
  path: '/auth/password_reset',
  scope: 'api',
  operationId: 'requestPasswordReset',
  summary: 'Email a password reset link',
  description: 'Always answers 202, whether or not the email has an account.',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ email }) },
  responses: { 202: { description: 'If the account exists, a link was emailed', schema: dataBody(z.object({})) } },
  async handle({ body, meta, deps }) {
    await requestPasswordReset(deps, body, loginContext(meta));
    return { kind: 'data', status: 202, data: {} };
  },
});

export const completePasswordResetRoute = defineRoute({
  method: 'POST',
  path: '/auth/password_reset/complete',
  scope: 'api',
  operationId: 'completePasswordReset',
  summary: 'Choose a new password with a reset token',
  description: 'Every session of the account is revoked.',
  tags: ['Authentication'],
  auth: 'none',
  request: { body: z.object({ token, password }) },
  responses: { 200: { description: 'Password changed', schema: dataBody(z.object({})) } },
  async handle({ body, meta, deps }) {
    await completePasswordReset(deps, body, loginContext(meta));
    return { kind: 'data', data: {} };
  },
});

export const changePasswordRoute = defineRoute({
  method: 'POST',
  path: '/users/me/password',
  scope: 'api',
  operationId: 'changePassword',
  summary: 'Change your password',
  description: 'Your other sessions are revoked.',
  tags: ['Users'],
  auth: 'user',
  request: { body: z.object({ current_password: password, new_password: password }) },
  responses: { 200: { description: 'Password changed', schema: dataBody(z.object({ other_sessions_revoked: z.number() })) } },
  async handle({ principal, body, meta, deps }) {
    return { kind: 'data', data: { other_sessions_revoked: await changePassword(deps, principal, body, loginContext(meta)) } };
  },
});

export const authRoutes = [signupRoute, loginRoute, logoutRoute, acceptInvitationRoute, notMeRoute, notMePageRoute, notMeConfirmRoute, invitationPageRoute, invitationConfirmRoute, passwordResetPageRoute, passwordResetConfirmRoute, requestPasswordResetRoute, completePasswordResetRoute, changePasswordRoute];
