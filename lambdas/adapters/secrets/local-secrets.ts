import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppSecrets, SecretsProvider } from '../ports.js';
import { deriveSecrets } from './derive.js';

interface SecretsFile {
  master: string;
  blobUrlKey: string;
}

/** $LOCAL_DATA_DIR/secrets.json (mode 0600), created with random values on first start. */
export async function loadLocalSecretsFile(dataDir: string): Promise<SecretsFile> {
  const file = join(dataDir, 'secrets.json');
  const read = async () => JSON.parse(await readFile(file, 'utf8')) as Partial<SecretsFile>;
  let current: Partial<SecretsFile> = await read().catch(() => ({}));
  if (!current.master || !current.blobUrlKey) {
    current = { master: randomBytes(32).toString('base64url'), blobUrlKey: randomBytes(32).toString('base64url'), ...current };
    await writeFile(file, JSON.stringify(current), { mode: 0o600 });
  }
  return current as SecretsFile;
}

export class LocalSecrets implements SecretsProvider {
  readonly #secrets: AppSecrets;
  constructor(master: string) {
    this.#secrets = deriveSecrets(master);
  }
  async get(): Promise<AppSecrets> {
    return this.#secrets;
  }
}
