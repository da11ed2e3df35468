/**
 * The whole backend on one machine: local adapters wired to the same route table and
 * handlers the Lambdas run. Used by bin/local.ts (npm start) and by end-to-end tests.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { LocalBlobs } from '../adapters/blobs/local-blobs.js';
import { systemClock } from '../adapters/clock.js';
import { cryptoIds } from '../adapters/ids.js';
import { LocalMailer } from '../adapters/mail/local-mailer.js';
import { LocalQueue } from '../adapters/queue/local-queue.js';
import { LocalSecrets, loadLocalSecretsFile } from '../adapters/secrets/local-secrets.js';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../domain/auth/config.js';
import { type Database } from '../db/database.js';
import { openPglite, pgliteDatabase, postgresDatabase } from '../db/local-engines.js';
import { loadMigrations, migrate } from '../db/migrator.js';
import { createApiHandler } from '../http/api.js';
import type { AppDeps } from '../http/deps.js';
import { createLocalHttpServer, createRequestListener } from '../http/local-server.js';
import { routes } from '../http/route-table.js';
import { relayStalledExports } from '../domain/exports/jobs.js';
import { createExportWorker, failDeadLetteredExport, type ExportWorkerOptions } from '../workers/exports.js';
import { createMailWorker, relayDueMail } from '../workers/mail.js';
import { runPurge } from '../workers/purge.js';
import { logger } from '../shared/logger.js';

export interface LocalOptions {
  dataDir: string;
  port: number;
  host?: string;
  /** Use this PostgreSQL instead of the embedded database. */
  databaseUrl?: string;
  maxBodyBytes?: number;
  mailFrom?: string;
  /** Tests pass cheaper password hashing here; npm start uses the production settings. */
  auth?: AuthConfig;
  defaultPlan?: 'free' | 'paid';
  relayIntervalMs?: number;
}

export interface LocalRuntime {
  baseUrl: string;
  dataDir: string;
  outboxDir: string;
  deps: AppDeps;
  queue: LocalQueue;
  server: Server;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The export worker as deployed (lib/functions.ts): 15 minutes, the queue's visibility timeout 6x that. */
export const EXPORT_WORKER = { timeoutSeconds: 900, visibilityTimeoutSeconds: 6 * 900 };

/**
 * The queue workers as deployed, on the in-process queue: the mail worker, the export
 * worker, and the consumer of the exports dead-letter queue (fails the job with an email).
 */
export function registerWorkers(queue: LocalQueue, deps: AppDeps, options: { exportWorker?: ExportWorkerOptions; mailVisibilityTimeoutSeconds?: number } = {}): void {
  queue.register('mail', createMailWorker(deps), { batchSize: 10, visibilityTimeoutSeconds: options.mailVisibilityTimeoutSeconds ?? 180, functionTimeoutSeconds: 30, maxReceiveCount: 5 });
  queue.register('exports', createExportWorker(deps, options.exportWorker), {
    batchSize: 1,
    visibilityTimeoutSeconds: EXPORT_WORKER.visibilityTimeoutSeconds,
    functionTimeoutSeconds: EXPORT_WORKER.timeoutSeconds,
    maxReceiveCount: 5,
    onDeadLetter: async (message) => void (await failDeadLetteredExport(deps, message.body)),
  });
}

export async function startLocal(options: LocalOptions): Promise<LocalRuntime> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  let database: Database;
  if (options.databaseUrl) database = postgresDatabase(options.databaseUrl);
  else {
    await mkdir(join(dataDir, 'db'), { recursive: true });
    database = pgliteDatabase(await openPglite(join(dataDir, 'db')));
  }
  await migrate(database.db, await loadMigrations());

  // Bind first: the base URL (and so the signed blob URLs) depends on the port.
  const server = createLocalHttpServer();
  try {
    await new Promise<void>((bound, failed) => {
      server.once('error', failed);
      server.listen(options.port, host, () => bound());
    });
  } catch (error) {
    await database.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://${host}:${port}`;

  const secrets = await loadLocalSecretsFile(dataDir);
  const outboxDir = join(dataDir, 'outbox');
  const queue = new LocalQueue();
  const mailer = new LocalMailer({ dir: outboxDir, from: options.mailFrom ?? 'Asana-compatible backend <no-reply@localhost>' });
  const blobs = new LocalBlobs({ root: join(dataDir, 'blobs'), baseUrl, secret: secrets.blobUrlKey });
  const deps: AppDeps = {
    database,
    clock: systemClock,
    ids: cryptoIds,
    blobs,
    queue,
    mailer,
    secrets: new LocalSecrets(secrets.master),
    config: { publicBaseUrl: baseUrl, maxBodyBytes, auth: options.auth ?? DEFAULT_AUTH_CONFIG, defaultPlan: options.defaultPlan ?? 'free' },
    local: { listOutbox: () => mailer.listOutbox() },
  };
  server.on('request', createRequestListener({ handler: createApiHandler(deps, routes), blobs, maxBodyBytes }));
  // The same worker handlers the Lambdas run, fed by the in-process queue.
  registerWorkers(queue, deps);
  queue.start();
  // Scheduled jobs (EventBridge in AWS): the outbox relay and the daily purge.
  const timers = [
    setInterval(() => void relayDueMail(deps).catch((error: unknown) => logger.warn('outbox relay failed', { error: error as Error })), options.relayIntervalMs ?? 10_000),
    setInterval(() => void relayStalledExports(deps).catch((error: unknown) => logger.warn('export relay failed', { error: error as Error })), 60_000),
    setInterval(() => void runPurge(deps).catch((error: unknown) => logger.warn('purge failed', { error: error as Error })), 3600_000),
  ];
  for (const t of timers) t.unref();

  let closing: Promise<void> | undefined;
  return {
    baseUrl,
    dataDir,
    outboxDir,
    deps,
    queue,
    server,
    close: () =>
      (closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        });
        await queue.stop();
        await database.close();
      })()),
  };
}
