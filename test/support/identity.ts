/**
 * A whole identity stack for tests: the real route table and handler on a migrated
 * database, the in-process queue running the real mail worker, a mailer that can be
 * made to fail, a manual clock, and cheap password hashing (set explicitly here; the
 * production parameters are asserted in test/identity/passwords.test.ts).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { cryptoIds } from '../../lambdas/adapters/ids.js';
import type { BlobStore, MailMessage, Mailer } from '../../lambdas/adapters/ports.js';
import { LocalQueue } from '../../lambdas/adapters/queue/local-queue.js';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../../lambdas/domain/auth/config.js';
import type { AppDeps } from '../../lambdas/domain/deps.js';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import type { RouteDef } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { createMailWorker, relayDueMail } from '../../lambdas/workers/mail.js';
import { logger } from '../../lambdas/shared/logger.js';
import { openEngine, type EngineName, type TestEngine } from './engines.js';
import { apiEvent, header, testSecrets, unusedBlobs } from './http.js';

export const CHEAP_AUTH: AuthConfig = { ...DEFAULT_AUTH_CONFIG, scrypt: { logN: 4, r: 8, p: 1 } };
export const BASE_URL = 'https://tasks.example.test';
export const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
export const CHROME_MAC_UPDATED = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';

/** A mailer that records what it sends and fails while `down` is true. */
export class SwitchableMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  down = false;
  async send(message: MailMessage) {
    if (this.down) throw Object.assign(new Error('mail service unavailable'), { name: 'ServiceUnavailable' });
    this.sent.push(message);
    return { messageId: `mail-${this.sent.length}` };
  }
}

export interface CallInit {
  method?: string;
  path: string;
  body?: unknown;
  token?: string;
  cookie?: string;
  ip?: string;
  userAgent?: string;
}

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string>;
}

export interface IdentityHarness {
  engine: TestEngine;
  deps: AppDeps;
  clock: ManualClock;
  queue: LocalQueue;
  mailer: SwitchableMailer;
  handler: ApiHandler;
  call(init: CallInit): Promise<Answer>;
  /** Delivers queued mail (runs the mail worker until the queue is idle). */
  deliverMail(): Promise<void>;
  /** Mail sent to an address, oldest first. */
  mailTo(address: string): MailMessage[];
  close(): Promise<void>;
}

let emailCounter = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}-${Date.now().toString(36)}-${++emailCounter}@example.com`;

export async function identityHarness(
  options: { engine?: EngineName; extraRoutes?: RouteDef[]; auth?: Partial<AuthConfig>; /** A real blob store (e.g. LocalBlobs in a temp dir); by default one that fails every call. */ blobs?: BlobStore } = {},
): Promise<IdentityHarness> {
  logger.setLogLevel('SILENT');
  const engine = await openEngine(options.engine ?? 'pglite');
  const clock = new ManualClock(new Date());
  const queue = new LocalQueue({ clock });
  const mailer = new SwitchableMailer();
  const deps: AppDeps = {
    database: engine,
    clock,
    ids: cryptoIds,
    blobs: options.blobs ?? unusedBlobs,
    queue,
    mailer,
    secrets: testSecrets,
    config: { publicBaseUrl: BASE_URL, maxBodyBytes: 64 * 1024, auth: { ...CHEAP_AUTH, ...options.auth }, defaultPlan: 'free' },
  };
  queue.register('mail', createMailWorker(deps), { visibilityTimeoutSeconds: 60, functionTimeoutSeconds: 30, maxReceiveCount: 5 });
  const handler = createApiHandler(deps, [...routes, ...(options.extraRoutes ?? [])]);
  return {
    engine,
    deps,
    clock,
    queue,
    mailer,
    handler,
    async call(init) {
      const headers: Record<string, string> = { 'User-Agent': init.userAgent ?? CHROME_MAC };
      if (init.token) headers.Authorization = `Bearer ${init.token}`;
      if (init.cookie) headers.Cookie = init.cookie;
      const result: APIGatewayProxyResult = await handler(apiEvent({ method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), path: init.path, headers, body: init.body === undefined ? undefined : init.body, sourceIp: init.ip ?? '198.51.100.7' }));
      const all: Record<string, string> = {};
      for (const k of Object.keys(result.headers ?? {})) all[k.toLowerCase()] = header(result, k)!;
      return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : null, headers: all };
    },
    async deliverMail() {
      await queue.drain();
    },
    mailTo(address) {
      return mailer.sent.filter((m) => m.to.includes(address));
    },
    async close() {
      await queue.stop();
      await engine.close();
    },
  };
}

/** Signs up a new user with their own organization; returns the session and ids. */
export async function signUp(h: IdentityHarness, init: { email?: string; password?: string; ip?: string; userAgent?: string } = {}) {
  const email = init.email ?? uniqueEmail();
  const password = init.password ?? 'a long enough passphrase';
  const res = await h.call({ path: '/api/1.0/auth/signup', body: { data: { email, password, name: 'Test User', organization_name: 'Test Org' } }, ...(init.ip ? { ip: init.ip } : {}), ...(init.userAgent ? { userAgent: init.userAgent } : {}) });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, password, token: res.body.data.token as string, userGid: res.body.data.user.gid as string, organizationGid: res.body.data.organization.gid as string };
}

export async function logIn(h: IdentityHarness, email: string, password: string, init: { ip?: string; userAgent?: string } = {}) {
  return h.call({ path: '/api/1.0/auth/login', body: { data: { email, password } }, ...init });
}

export { relayDueMail };

/** An API call as a client makes it: /api/1.0 before the path, the bearer token, `data` wrapped as {"data": ...}. */
export function apiCall(h: IdentityHarness, token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> {
  return h.call({ method, path: `/api/1.0${path}`, ...(token ? { token } : {}), ...(data === undefined ? {} : { body: { data } }) });
}

/** A call that must succeed (2xx): its answer's `data`; anything else throws with the status and body. */
export async function apiData(h: IdentityHarness, token: string | undefined, method: string, path: string, data?: unknown): Promise<any> {
  const res = await apiCall(h, token, method, path, data);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}
