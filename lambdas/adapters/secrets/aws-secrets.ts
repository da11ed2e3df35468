import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AppSecrets, SecretsProvider } from '../ports.js';
import { deriveSecrets } from './derive.js';

/** The master secret from Secrets Manager, fetched once per container. */
export class AwsSecrets implements SecretsProvider {
  #value: Promise<AppSecrets> | undefined;
  constructor(private readonly options: { client: SecretsManagerClient; secretId: string }) {}

  get(): Promise<AppSecrets> {
    this.#value ??= this.options.client.send(new GetSecretValueCommand({ SecretId: this.options.secretId })).then((out) => {
      if (!out.SecretString) throw new Error('the application secret has no SecretString');
      return deriveSecrets(out.SecretString);
    });
    // A failed fetch is retried on the next call rather than cached.
    this.#value.catch(() => (this.#value = undefined));
    return this.#value;
  }
}
