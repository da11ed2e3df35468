/**
 * Brute-force protection: failed logins per account and per IP network slow down with
 * growing delays (no permanent lockout). Keys are HMACs, so the table holds neither
 * emails nor addresses.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { keyedHmac } from './tokens.js';
import { ipNetwork } from './devices.js';
import type { AuthConfig } from './config.js';

/** Failures older than this are forgotten. */
const FORGET_AFTER_MS = 3600_000;

export function throttleKeys(hmacKey: Buffer, email: string, ip: string): string[] {
  return [keyedHmac(hmacKey, `account:${email.trim().toLowerCase()}`), keyedHmac(hmacKey, `ip:${ipNetwork(ip)}`)];
}

/** Delay after the n-th failure: none for the first few, then 1 s, 2 s, 4 s ... up to the cap. */
export function delayAfter(failures: number, config: Pick<AuthConfig, 'freeFailures' | 'maxDelaySeconds'>): number {
  if (failures < config.freeFailures) return 0;
  return Math.min(2 ** (failures - config.freeFailures), config.maxDelaySeconds);
}

/** Seconds to wait before another attempt may be made with any of these keys (0: go ahead). */
export async function retryAfterSeconds(db: Kysely<DB>, keys: string[], now: Date): Promise<number> {
  const rows = await db.selectFrom('login_throttle').select('blocked_until').where('key', 'in', keys).execute();
  const until = Math.max(0, ...rows.map((r) => r.blocked_until.getTime()));
  return until > now.getTime() ? Math.ceil((until - now.getTime()) / 1000) : 0;
}

export async function recordFailure(db: Kysely<DB>, keys: string[], now: Date, config: AuthConfig): Promise<void> {
  for (const key of keys) {
    const row = await db.selectFrom('login_throttle').select(['failures', 'last_failure_at']).where('key', '=', key).executeTakeFirst();
    const failures = row && now.getTime() - row.last_failure_at.getTime() < FORGET_AFTER_MS ? row.failures + 1 : 1;
    const blockedUntil = new Date(now.getTime() + delayAfter(failures, config) * 1000);
    await db
      .insertInto('login_throttle')
      .values({ key, failures, last_failure_at: now, blocked_until: blockedUntil })
      .onConflict((oc) => oc.column('key').doUpdateSet({ failures, last_failure_at: now, blocked_until: blockedUntil }))
      .execute();
  }
}

/** A successful login clears the account's counter (not the network's: others share it). */
export async function clearFailures(db: Kysely<DB>, accountKey: string): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', accountKey).execute();
}
