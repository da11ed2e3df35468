import { randomBytes } from 'node:crypto';
import type { Ids } from './ports.js';

/**
 * Asana's gids are decimal strings of up to 16 digits. Ours are random (so they do not
 * reveal how many objects exist or when they were made) and below 2^53, so any JSON
 * client can hold them as numbers without loss.
 */
const GID_MIN = 1_000_000_000_000_000; // 16 digits, so gids sort and look alike
const GID_MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991

export const cryptoIds: Ids = {
  gid: () => {
    // 64 random bits reduced to the range; the modulo bias (< 2^-10) is irrelevant for ids.
    const r = randomBytes(8).readBigUInt64BE();
    return String(BigInt(GID_MIN) + (r % BigInt(GID_MAX - GID_MIN)));
  },
  token: () => randomBytes(32).toString('base64url'),
};

/** Deterministic ids for tests: gids count up from a base, tokens are distinct but predictable. */
export function sequentialIds(start = GID_MIN): Ids {
  let next = start;
  let tokens = 0;
  return {
    gid: () => String(next++),
    token: () => `test-token-${++tokens}`.padEnd(43, '0'),
  };
}
