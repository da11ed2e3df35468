/** The secrets port: Secrets Manager and the local file give the same derived keys for the same master secret. */
import { describe, expect, test } from '@jest/globals';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsSecrets } from '../../lambdas/adapters/secrets/aws-secrets.js';
import { deriveSecrets } from '../../lambdas/adapters/secrets/derive.js';
import { LocalSecrets, loadLocalSecretsFile } from '../../lambdas/adapters/secrets/local-secrets.js';

const MASTER = 'a-master-secret-of-enough-length-0123456789';

describe('secrets', () => {
  test('both implementations derive the same, distinct 256-bit keys from the master secret', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand, { SecretId: 'arn:app-secret' }).resolves({ SecretString: MASTER });
    const aws = await new AwsSecrets({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretId: 'arn:app-secret' }).get();
    const local = await new LocalSecrets(MASTER).get();
    expect(aws.hmacKey.equals(local.hmacKey)).toBe(true);
    expect(aws.encryptionKey.equals(local.encryptionKey)).toBe(true);
    expect(aws.hmacKey).toHaveLength(32);
    expect(aws.hmacKey.equals(aws.encryptionKey)).toBe(false);
    expect(deriveSecrets(`${MASTER}x`).hmacKey.equals(aws.hmacKey)).toBe(false);
    sm.restore();
  });

  test('Secrets Manager is read once per container; a failed read is retried, not cached', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({ SecretString: MASTER });
    const provider = new AwsSecrets({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretId: 'arn:app-secret' });
    await expect(provider.get()).rejects.toThrow('throttled');
    await provider.get();
    await provider.get();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    sm.restore();
  });

  test('a secret without a string, or a short master secret, is refused', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({});
    await expect(new AwsSecrets({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretId: 'x' }).get()).rejects.toThrow(/no SecretString/);
    sm.restore();
    expect(() => deriveSecrets('short')).toThrow(/at least 32/);
  });

  test('the local secrets file is created once with mode 0600 and kept across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secrets-'));
    const first = await loadLocalSecretsFile(dir);
    const second = await loadLocalSecretsFile(dir);
    expect(second).toEqual(first);
    expect(first.master.length).toBeGreaterThanOrEqual(32);
    expect((await stat(join(dir, 'secrets.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'secrets.json'), 'utf8'))).toEqual(first);
    await rm(dir, { recursive: true });
  });
});
