/** AES-256-GCM for secrets kept in the database (SSO client secrets). */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Any sealed value that does not open: altered, truncated, copied from another row or
 * purpose, or sealed with another key. Says nothing of which, nor of the value.
 */
export class FieldDecryptionError extends Error {
  override name = 'FieldDecryptionError';
  constructor() {
    super('An encrypted field could not be decrypted: it was altered, copied from another row, or sealed with another key');
  }
}

/** v1.<iv>.<tag>.<ciphertext>, base64url; the purpose is bound as associated data. */
export function encryptField(key: Buffer, plaintext: string, purpose: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(purpose));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}

export function decryptField(key: Buffer, sealed: string, purpose: string): string {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new FieldDecryptionError();
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  // GCM accepts shorter tags (down to 4 bytes) unless the length is pinned: a truncated tag
  // would make forging a value a 1-in-2^32 guess. Only the full 16 bytes are accepted.
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new FieldDecryptionError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new FieldDecryptionError();
  }
}
