/** Opaque bearer secrets: 256-bit CSPRNG values, stored only as SHA-256 hashes. */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export const newToken = (): string => randomBytes(32).toString('base64url');

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** A keyed HMAC (hex), for values that must be matched but not stored (IPs, throttle keys). */
export const keyedHmac = (key: Buffer, value: string): string => createHmac('sha256', key).update(value, 'utf8').digest('hex');

/** Tokens have a fixed shape: anything else is rejected before a lookup. */
export const looksLikeToken = (value: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(value);
