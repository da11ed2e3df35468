import { PRODUCTION_SCRYPT, type ScryptParams } from './passwords.js';

export interface AuthConfig {
  scrypt: ScryptParams;
  /** A session ends this long after it began, whatever happens. */
  sessionAbsoluteSeconds: number;
  /** ...or after this long without use. */
  sessionIdleSeconds: number;
  invitationSeconds: number;
  notMeSeconds: number;
  passwordResetSeconds: number;
  /** Raw IP addresses in the login history are cleared after this many days. */
  ipRetentionDays: number;
  /** Failed attempts allowed before delays begin, per account and per IP network. */
  freeFailures: number;
  /** Upper bound of the delay after repeated failures. */
  maxDelaySeconds: number;
}

export const DEFAULT_AUTH_CONFIG: AuthConfig = {
  scrypt: PRODUCTION_SCRYPT,
  sessionAbsoluteSeconds: 30 * 24 * 3600,
  sessionIdleSeconds: 7 * 24 * 3600,
  invitationSeconds: 7 * 24 * 3600,
  notMeSeconds: 7 * 24 * 3600,
  passwordResetSeconds: 3600,
  ipRetentionDays: 90,
  freeFailures: 5,
  maxDelaySeconds: 15 * 60,
};
