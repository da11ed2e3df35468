/**
 * Password rules (OWASP ASVS 5.0 / NIST 800-63B): at least 8 characters, at least 64
 * allowed (we allow 128), no composition rules, the most common passwords refused.
 * Hashing: scrypt with N=2^17, r=8, p=1 and a per-user salt, stored as a
 * self-describing string so parameters can be raised later (rehash on login).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  r: number;
  p: number;
}

/** The production parameters. Tests may pass cheaper ones explicitly (see AuthConfig). */
export const PRODUCTION_SCRYPT: ScryptParams = { logN: 17, r: 8, p: 1 };

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

/** zxcvbn-ts's list of the most common passwords (maintained with the package). */
const COMMON = new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));

/** Passwords are compared as Unicode NFKC (NIST 800-63B), so the same keys type the same password. */
const normalize = (password: string) => password.normalize('NFKC');

/** Why a new password is not acceptable, or null when it is. */
export function passwordProblem(password: string, context: { email?: string; name?: string } = {}): string | null {
  const normalized = normalize(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const lower = normalized.toLowerCase();
  if (COMMON.has(lower)) return 'is one of the most common passwords; choose another';
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (lower === context.email?.toLowerCase() || (local && local.length >= 4 && lower === local)) return 'must not be your email address';
  return null;
}

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * params.p * 2 };
  return new Promise((resolve, reject) => scryptCallback(normalize(password), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** $scrypt$ln=17,r=8,p=1$<salt b64>$<key b64> */
export async function hashPassword(password: string, params: ScryptParams = PRODUCTION_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function parseHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const m = HASH.exec(stored);
  if (!m) return null;
  return { params: { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** True when the stored hash was made with other parameters than the current ones. */
export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.params.logN !== params.logN || parsed.params.r !== params.r || parsed.params.p !== params.p;
}

/**
 * A hash of a random password with the current parameters: verifying against it takes
 * as long as a real check, so an unknown email answers as slowly as a wrong password.
 */
export function decoyHash(params: ScryptParams): Promise<string> {
  return hashPassword(randomBytes(16).toString('hex'), params);
}
