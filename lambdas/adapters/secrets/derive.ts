import { hkdfSync } from 'node:crypto';
import type { AppSecrets } from '../ports.js';

/**
 * Every application key comes from one master secret through HKDF with a distinct
 * label, so one secret is stored and rotated, and no two purposes share a key.
 */
export function deriveSecrets(master: string): AppSecrets {
  if (master.length < 32) throw new Error('the master secret must be at least 32 characters');
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', master, 'asana-backend', label, 32));
  return { hmacKey: derive('login-detection-hmac'), encryptionKey: derive('database-field-encryption') };
}
