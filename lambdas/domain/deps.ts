import type { Database } from '../db/database.js';
import type { BlobStore, Clock, Ids, Mailer, Queue, SecretsProvider } from '../adapters/ports.js';
import type { AuthConfig } from './auth/config.js';
import type { OutboxEntry } from '../adapters/mail/local-mailer.js';

export interface HttpConfig {
  /**
   * The public origin clients use, e.g. https://tasks.example.com or http://127.0.0.1:3000.
   * Unset behind API Gateway's own domain: it is then derived from each request
   * (https://{domainName}/{stage}).
   */
  publicBaseUrl?: string;
  /** Largest accepted request body (413 above it). */
  maxBodyBytes: number;
  auth: AuthConfig;
  /** The plan new organizations get (DEFAULT_PLAN). */
  defaultPlan: 'free' | 'paid';
  /** How long an emailed export link and its file live (EXPORT_LINK_DAYS; default 7). */
  exportLinkDays?: number;
}

/** Everything a route handler may use: ports, never concrete AWS clients. */
export interface AppDeps {
  database: Database;
  clock: Clock;
  ids: Ids;
  blobs: BlobStore;
  queue: Queue;
  mailer: Mailer;
  secrets: SecretsProvider;
  config: HttpConfig;
  /** Present only in local mode (npm start, tests). */
  local?: { listOutbox(): Promise<OutboxEntry[]> };
}
