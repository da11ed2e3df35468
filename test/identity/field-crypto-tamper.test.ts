/**
 * Field encryption of SSO client secrets (AES-256-GCM, lambdas/domain/auth/field-crypto.ts):
 * integrity and binding. Someone who can write to the database (a restored backup, a
 * stolen admin credential, a SQL bug) must not be able to alter a stored secret unnoticed,
 * truncate its authentication tag to make forgeries cheap, or copy one organization's
 * sealed secret into another organization's row. Each refusal is a clean error, and the
 * SSO paths answer it with the generic 500: no secret, no key, no stack, no crypto detail.
 *
 * The route-level tests run against a real OpenID provider on loopback (as in
 * oidc.test.ts), so an intact secret is shown to work (the positive control: the start
 * redirects to the provider) in the same test that shows the tampered one does not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decryptField, encryptField } from '../../lambdas/domain/auth/field-crypto.js';
import { clearOidcConfigurationCache } from '../../lambdas/domain/auth/oidc.js';
import { logger } from '../../lambdas/shared/logger.js';
import { TEST_SECRETS } from '../support/http.js';
import { BASE_URL, identityHarness, signUp, type IdentityHarness } from '../support/identity.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

/** What every refusal says, whatever was wrong (nothing about which byte, key or purpose). */
const REFUSED = /^An encrypted field could not be decrypted/;
const PURPOSE = (organizationGid: string) => `oidc-client-secret:${organizationGid}`;

type Part = 'iv' | 'tag' | 'ciphertext';
const PART_INDEX: Record<Part, number> = { iv: 1, tag: 2, ciphertext: 3 };

/** The sealed string with one of its parts rewritten (as bytes, re-encoded canonically). */
function withPart(sealed: string, part: Part, change: (bytes: Buffer) => Buffer): string {
  const parts = sealed.split('.');
  parts[PART_INDEX[part]] = change(Buffer.from(parts[PART_INDEX[part]]!, 'base64url')).toString('base64url');
  return parts.join('.');
}
const partOf = (sealed: string, part: Part) => Buffer.from(sealed.split('.')[PART_INDEX[part]]!, 'base64url');
const flipped = (index: number, mask: number) => (bytes: Buffer) => {
  const copy = Buffer.from(bytes);
  copy[index]! ^= mask;
  return copy;
};

/** Runs fn and returns the error it throws (failing the test if it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal, but decryption succeeded');
}

describe('field encryption: integrity', () => {
  const key = randomBytes(32);
  const purpose = PURPOSE('1204000000000001');
  const secret = 'oidc-client-secret-Zk3v9Qw7'; // 27 bytes of ciphertext

  test('the stored form is v1.<12-byte IV>.<16-byte tag>.<ciphertext>, with a fresh IV each time', () => {
    const a = encryptField(key, secret, purpose);
    const b = encryptField(key, secret, purpose);
    expect(a.split('.')).toHaveLength(4);
    expect(a.split('.')[0]).toBe('v1');
    expect(partOf(a, 'iv')).toHaveLength(12);
    expect(partOf(a, 'tag')).toHaveLength(16);
    expect(partOf(a, 'ciphertext')).toHaveLength(Buffer.byteLength(secret));
    expect(a).not.toBe(b);
    expect(partOf(a, 'iv').equals(partOf(b, 'iv'))).toBe(false);
    expect(decryptField(key, a, purpose)).toBe(secret);
    expect(decryptField(key, b, purpose)).toBe(secret);
  });

  test.each(['iv', 'tag', 'ciphertext'] as const)('flipping any bit of any byte of the %s is refused', (part) => {
    const sealed = encryptField(key, secret, purpose);
    const length = partOf(sealed, part).length;
    let tried = 0;
    for (let index = 0; index < length; index++) {
      for (const mask of [0x01, 0x10, 0x80]) {
        const tampered = withPart(sealed, part, flipped(index, mask));
        expect(tampered).not.toBe(sealed);
        expect(thrown(() => decryptField(key, tampered, purpose)).message).toMatch(REFUSED);
        tried++;
      }
    }
    expect(tried).toBe(length * 3);
    // The untouched value still decrypts: the refusals are the tampering, not the setup.
    expect(decryptField(key, sealed, purpose)).toBe(secret);
  });

  test('a truncated tag is refused, even though it is a prefix of the right one (GCM short-tag forgery)', () => {
    const sealed = encryptField(key, secret, purpose);
    // Node accepts 4- to 16-byte GCM tags unless the length is pinned; a 4-byte tag would make
    // a forgery a 1-in-2^32 guess instead of 1-in-2^128.
    for (const length of [15, 12, 8, 4]) {
      const truncated = withPart(sealed, 'tag', (tag) => tag.subarray(0, length));
      expect(thrown(() => decryptField(key, truncated, purpose)).message).toMatch(REFUSED);
    }
  });

  test('other shapes are refused: longer tag, shorter or longer IV, cut or extended ciphertext, empty parts, another version', () => {
    const sealed = encryptField(key, secret, purpose);
    const [, iv, tag, data] = sealed.split('.') as [string, string, string, string];
    const variants = [
      withPart(sealed, 'tag', (t) => Buffer.concat([t, Buffer.from([0])])),
      withPart(sealed, 'iv', (v) => v.subarray(0, 8)),
      withPart(sealed, 'iv', (v) => Buffer.concat([v, Buffer.alloc(4)])),
      withPart(sealed, 'ciphertext', (c) => c.subarray(0, c.length - 1)),
      withPart(sealed, 'ciphertext', (c) => Buffer.concat([c, Buffer.from('x')])),
      withPart(sealed, 'ciphertext', () => Buffer.alloc(0)),
      ['v1', '', tag, data].join('.'),
      ['v1', iv, '', data].join('.'),
      ['v2', iv, tag, data].join('.'),
      ['v1', tag, iv, data].join('.'),
      [iv, tag, data].join('.'),
      '',
      secret,
    ];
    for (const variant of variants) expect(thrown(() => decryptField(key, variant, purpose)).message).toMatch(REFUSED);
  });

  test('another key is refused', () => {
    const sealed = encryptField(key, secret, purpose);
    expect(thrown(() => decryptField(randomBytes(32), sealed, purpose)).message).toMatch(REFUSED);
  });

  test('the refusal names nothing: not the secret, the key, the sealed value or what was wrong', () => {
    const sealed = encryptField(key, secret, purpose);
    const error = thrown(() => decryptField(key, withPart(sealed, 'tag', flipped(0, 1)), purpose));
    const text = `${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error)}`;
    for (const leak of [secret, key.toString('hex'), key.toString('base64'), key.toString('base64url'), partOf(sealed, 'ciphertext').toString('base64url'), purpose]) expect(text).not.toContain(leak);
    expect(error.message).not.toMatch(/unable to authenticate|Unsupported state|tag|iv\b/i);
  });
});

describe('field encryption: binding to the organization', () => {
  const key = randomBytes(32);

  test('the organization is associated data: a sealed secret opens only for the organization it was sealed for', () => {
    const sealed = encryptField(key, 'shared-client-secret', PURPOSE('1204000000000001'));
    expect(decryptField(key, sealed, PURPOSE('1204000000000001'))).toBe('shared-client-secret');
    for (const other of [PURPOSE('1204000000000002'), PURPOSE('120400000000000'), PURPOSE('12040000000000010'), 'oidc-client-secret', '1204000000000001', ''])
      expect(thrown(() => decryptField(key, sealed, other)).message).toMatch(REFUSED);
  });
});

// ---------------------------------------------------------------------------
// Through the API: the SSO sign-in start and the SSO settings read decrypt the secret.

let h: IdentityHarness;
let idp: TestOidcProvider;
const savedEnv = process.env.OIDC_ALLOW_INSECURE_LOOPBACK;

beforeAll(async () => {
  process.env.OIDC_ALLOW_INSECURE_LOOPBACK = '1'; // the test provider is http on 127.0.0.1
  h = await identityHarness();
  idp = await startOidcProvider({ redirectUri: `${BASE_URL}/api/1.0/auth/oidc/callback` });
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.OIDC_ALLOW_INSECURE_LOOPBACK;
  else process.env.OIDC_ALLOW_INSECURE_LOOPBACK = savedEnv;
  clearOidcConfigurationCache();
  logger.setLogLevel('SILENT');
  await idp?.close();
  await h?.close();
});

/** A super admin signs up and configures the provider (with its real client secret) for their organization. */
async function organizationWithOidc() {
  const admin = await signUp(h);
  const put = await h.call({
    method: 'PUT',
    path: `/api/1.0/organizations/${admin.organizationGid}/sso`,
    token: admin.token,
    body: { data: { oidc: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret } } },
  });
  expect(put.status).toBe(200);
  return admin;
}

const storedSecret = async (organizationGid: string) =>
  (await h.engine.db.selectFrom('organizations').select('oidc_client_secret_enc').where('gid', '=', organizationGid).executeTakeFirstOrThrow()).oidc_client_secret_enc!;
const storeSecret = (organizationGid: string, sealed: string) => h.engine.db.updateTable('organizations').set({ oidc_client_secret_enc: sealed }).where('gid', '=', organizationGid).execute();
const pendingSignIns = async (organizationGid: string) =>
  Number((await h.engine.db.selectFrom('sso_requests').select((eb) => eb.fn.countAll().as('n')).where('organization_gid', '=', organizationGid).executeTakeFirstOrThrow()).n);

/** Everything the logger writes during fn (at ERROR level, so the 500's log line is there). */
async function capturingLogs<T>(fn: () => Promise<T>): Promise<{ result: T; logs: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  logger.setLogLevel('ERROR');
  try {
    return { result: await fn(), logs: chunks.join('') };
  } finally {
    logger.setLogLevel('SILENT');
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const startSignIn = (organizationGid: string) => h.call({ path: `/api/1.0/auth/oidc/start?organization=${organizationGid}` });

/** The answer is the generic 500: request id, nothing of the secret, the key, the crypto or the code. */
function expectCleanFailure(answer: { status: number; body: any; headers: Record<string, string> }, secrets: string[]) {
  expect(answer.status).toBe(500);
  expect(answer.headers['set-cookie']).toBeUndefined();
  expect(answer.headers.location).toBeUndefined();
  const text = JSON.stringify(answer.body);
  expect(answer.body.errors).toHaveLength(1);
  for (const leak of secrets) expect(text).not.toContain(leak);
  expect(text).not.toMatch(/encrypted field|decrypt|authenticate data|aes|gcm|field-crypto|\.ts:\d+|\bat \w+ \(|node:internal/i);
}

describe('the SSO paths with a tampered secret', () => {
  test.each(['iv', 'tag', 'ciphertext'] as const)('a flipped byte in the stored %s: the sign-in start answers a clean 500 and starts nothing; restored, it works', async (part) => {
    const admin = await organizationWithOidc();
    const org = admin.organizationGid;
    const original = await storedSecret(org);
    expect((await startSignIn(org)).status).toBe(302); // positive control: the intact secret works

    const length = partOf(original, part).length;
    await storeSecret(org, withPart(original, part, flipped(length - 1, 0x01)));
    const before = await pendingSignIns(org);
    const { result: start, logs } = await capturingLogs(() => startSignIn(org));
    const leaks = [idp.clientSecret, TEST_SECRETS.encryptionKey.toString('hex'), TEST_SECRETS.encryptionKey.toString('base64')];
    expectCleanFailure(start, leaks);
    expect(start.body.errors[0]).toEqual({ message: 'Server Error', help: expect.any(String), request_id: start.headers['x-request-id'] });
    expect(await pendingSignIns(org)).toBe(before); // nothing was started with a secret it could not trust
    // The operator's log says what failed, and nothing more.
    expect(logs).toMatch(/An encrypted field could not be decrypted/);
    for (const leak of leaks) expect(logs).not.toContain(leak);

    // The admin's settings read fails the same way (and does not show the secret either).
    expectCleanFailure(await h.call({ path: `/api/1.0/organizations/${org}/sso`, token: admin.token }), leaks);

    await storeSecret(org, original);
    expect((await startSignIn(org)).status).toBe(302);
    expect((await h.call({ path: `/api/1.0/organizations/${org}/sso`, token: admin.token })).status).toBe(200);
  });

  test('an admin repairs a corrupted secret by setting it again', async () => {
    const admin = await organizationWithOidc();
    const org = admin.organizationGid;
    await storeSecret(org, withPart(await storedSecret(org), 'ciphertext', flipped(0, 0x80)));
    expect((await startSignIn(org)).status).toBe(500);
    const put = await h.call({ method: 'PUT', path: `/api/1.0/organizations/${org}/sso`, token: admin.token, body: { data: { oidc: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret } } } });
    expect(put.status).toBe(200);
    expect((await startSignIn(org)).status).toBe(302);
  });
});

describe("another organization's sealed secret", () => {
  test('copied into another organization row, it does not open, even where the plaintext would be the right one', async () => {
    // Both organizations use the same provider with the same client secret, so only the
    // binding tells the two sealed values apart: unbound, the copy would work.
    const a = await organizationWithOidc();
    const b = await organizationWithOidc();
    const sealedA = await storedSecret(a.organizationGid);
    const sealedB = await storedSecret(b.organizationGid);
    expect(decryptField(TEST_SECRETS.encryptionKey, sealedA, PURPOSE(a.organizationGid))).toBe(idp.clientSecret);
    expect(decryptField(TEST_SECRETS.encryptionKey, sealedB, PURPOSE(b.organizationGid))).toBe(idp.clientSecret);
    expect((await startSignIn(b.organizationGid)).status).toBe(302);

    await storeSecret(b.organizationGid, sealedA);
    const { result: start } = await capturingLogs(() => startSignIn(b.organizationGid));
    expectCleanFailure(start, [idp.clientSecret]);
    expect((await h.call({ path: `/api/1.0/organizations/${b.organizationGid}/sso`, token: b.token })).status).toBe(500);
    // The organization the value belongs to is unaffected.
    expect((await startSignIn(a.organizationGid)).status).toBe(302);

    // Swapped both ways, neither works.
    await storeSecret(a.organizationGid, sealedB);
    expect((await startSignIn(a.organizationGid)).status).toBe(500);
    expect((await startSignIn(b.organizationGid)).status).toBe(500);

    await storeSecret(a.organizationGid, sealedA);
    await storeSecret(b.organizationGid, sealedB);
    expect((await startSignIn(a.organizationGid)).status).toBe(302);
    expect((await startSignIn(b.organizationGid)).status).toBe(302);
  });
});
