import { describe, expect, test } from '@jest/globals';
import { DEFAULT_AUTH_CONFIG } from '../../lambdas/domain/auth/config.js';
import { hashPassword, needsRehash, parseHash, passwordProblem, PRODUCTION_SCRYPT, verifyPassword } from '../../lambdas/domain/auth/passwords.js';

describe('password hashing', () => {
  test('production uses scrypt N=2^17, r=8, p=1 with a per-user salt in a self-describing string', async () => {
    expect(PRODUCTION_SCRYPT).toEqual({ logN: 17, r: 8, p: 1 });
    expect(DEFAULT_AUTH_CONFIG.scrypt).toBe(PRODUCTION_SCRYPT);
    const [a, b] = [await hashPassword('correct horse battery staple'), await hashPassword('correct horse battery staple')];
    expect(a).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b); // different salts
    expect(await verifyPassword('correct horse battery staple', a)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', a)).toBe(false);
  }, 30_000);

  test('parameters can be raised later: old hashes verify and are flagged for rehash', async () => {
    const old = await hashPassword('some passphrase here', { logN: 4, r: 8, p: 1 });
    expect(parseHash(old)?.params).toEqual({ logN: 4, r: 8, p: 1 });
    expect(await verifyPassword('some passphrase here', old)).toBe(true);
    expect(needsRehash(old, { logN: 5, r: 8, p: 1 })).toBe(true);
    expect(needsRehash(old, { logN: 4, r: 8, p: 1 })).toBe(false);
    expect(await verifyPassword('x', 'not a hash')).toBe(false);
  });

  test('the same password typed as composed or decomposed Unicode verifies (NFKC)', async () => {
    const hash = await hashPassword('café au lait 123', { logN: 4, r: 8, p: 1 });
    expect(await verifyPassword('cafe\u0301 au lait 123', hash)).toBe(true);
  });
});

describe('password policy (ASVS 5.0)', () => {
  test('at least 8 characters, at least 64 allowed, at most 128', () => {
    expect(passwordProblem('seven77')).toMatch(/at least 8/);
    expect(passwordProblem('8 chars!')).toBeNull();
    expect(passwordProblem('x'.repeat(64).replace(/x/g, (_c, i: number) => String.fromCharCode(97 + (i % 26))))).toBeNull();
    expect(passwordProblem('long but fine '.repeat(9).slice(0, 128))).toBeNull();
    expect(passwordProblem('a'.repeat(129))).toMatch(/at most 128/);
  });

  test('no composition rules: lower-case words and spaces pass', () => {
    expect(passwordProblem('just some lowercase words')).toBeNull();
  });

  test('the most common passwords are refused, in any case', () => {
    for (const common of ['password', 'Password1', '12345678', 'qwertyuiop', 'iloveyou', 'PASSWORD']) expect(passwordProblem(common)).toMatch(/most common/);
  });

  test('the email address is refused as a password', () => {
    expect(passwordProblem('ada.lovelace@example.com', { email: 'Ada.Lovelace@example.com' })).toMatch(/email/);
    expect(passwordProblem('ada.lovelace', { email: 'ada.lovelace@example.com' })).toMatch(/email/);
  });
});
