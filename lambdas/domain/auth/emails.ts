/** The text of identity emails. Plain text: nothing to render, nothing to track. */
import type { OutgoingMail } from '../mail.js';

export type AlertMethod = 'password' | 'oidc' | 'saml';

const METHOD_NAMES: Record<AlertMethod, string> = {
  password: 'email and password',
  oidc: 'single sign-on (OpenID Connect)',
  saml: 'single sign-on (SAML)',
};

export function loginAlertEmail(input: {
  to: string;
  name: string;
  at: Date;
  browser: string;
  os: string;
  ip: string;
  method: AlertMethod;
  notMeUrl: string;
}): OutgoingMail {
  const advice =
    input.method === 'password'
      ? 'If this was not you, use the link below: it signs that session out and asks you to choose a new password.'
      : "If this was not you, use the link below to sign that session out, and contact your identity provider's administrator: your single sign-on account may be compromised. Changing a password here would not help.";
  return {
    to: [input.to],
    subject: 'New login to your account',
    text: [
      `Hi ${input.name},`,
      '',
      'Your account was just used to log in from a browser and network we have not seen you use before.',
      '',
      `  When:     ${input.at.toISOString().replace('T', ' ').slice(0, 19)} UTC`,
      `  Browser:  ${input.browser} on ${input.os}`,
      `  IP:       ${input.ip || 'unknown'}`,
      `  Method:   ${METHOD_NAMES[input.method]}`,
      '',
      'If this was you, you can ignore this email.',
      '',
      advice,
      '',
      `This wasn't me: ${input.notMeUrl}`,
      '',
      'The link works once and expires in 7 days.',
    ].join('\n'),
  };
}

export function invitationEmail(input: { to: string; organizationName: string; inviterName: string; role: string; acceptUrl: string }): OutgoingMail {
  return {
    to: [input.to],
    subject: `${input.inviterName} invited you to ${input.organizationName}`,
    text: [
      `${input.inviterName} invited you to join ${input.organizationName} as ${input.role === 'admin' ? 'an admin' : `a ${input.role}`}.`,
      '',
      `Accept the invitation: ${input.acceptUrl}`,
      '',
      'The invitation works once and expires in 7 days. If you did not expect it, ignore this email.',
    ].join('\n'),
  };
}

export function passwordResetEmail(input: { to: string; name: string; resetUrl: string; forced: boolean }): OutgoingMail {
  return {
    to: [input.to],
    subject: input.forced ? 'Choose a new password for your account' : 'Reset your password',
    text: [
      `Hi ${input.name},`,
      '',
      input.forced
        ? 'You told us a recent login was not you. We signed that session out; before you can log in with a password again, choose a new one:'
        : 'Someone (hopefully you) asked to reset the password of your account. To choose a new one, open:',
      '',
      input.resetUrl,
      '',
      'The link works once and expires in 1 hour.',
    ].join('\n'),
  };
}
