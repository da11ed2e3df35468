/**
 * Helpers for HTTP tests: API Gateway REST proxy events as API Gateway (and the local
 * server) build them, AppDeps with small in-memory fakes around a real database, and
 * result parsing.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { sequentialIds } from '../../lambdas/adapters/ids.js';
import type { AppSecrets, BlobStore, MailMessage, Mailer, Queue, QueueName, SecretsProvider, SendOptions } from '../../lambdas/adapters/ports.js';
import type { Database } from '../../lambdas/db/database.js';
import { DEFAULT_AUTH_CONFIG } from '../../lambdas/domain/auth/config.js';
import type { AppDeps, HttpConfig } from '../../lambdas/http/deps.js';
import { callerIdentity } from '../../lambdas/http/local-server.js';

export interface EventInit {
  method?: string;
  /** Path, optionally with a query string ("/api/1.0/things?limit=2"). */
  path: string;
  /** Extra query parameters; an array gives a repeated parameter. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (with Content-Type: application/json unless given). */
  body?: unknown;
  isBase64Encoded?: boolean;
  /** requestContext.requestId; null builds an event without a requestContext. */
  requestId?: string | null;
  sourceIp?: string;
  /** requestContext.domainName (API Gateway's host name for the request). */
  domainName?: string;
  /** requestContext.stage. */
  stage?: string;
}

export const TEST_DOMAIN = 'abc123.execute-api.eu-west-1.amazonaws.com';

/** An API Gateway REST proxy event, with single and multi-value query parameters as API Gateway fills them. */
export function apiEvent(init: EventInit): APIGatewayProxyEvent {
  const [pathname, search = ''] = init.path.split('?', 2) as [string, string?];
  const multi: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(search)) (multi[k] ??= []).push(v);
  for (const [k, v] of Object.entries(init.query ?? {})) (multi[k] ??= []).push(...(Array.isArray(v) ? v : [v]));
  const single = Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v[v.length - 1]!]));
  const hasQuery = Object.keys(multi).length > 0;

  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | null = null;
  if (init.body !== undefined && init.body !== null) {
    if (typeof init.body === 'string') body = init.body;
    else {
      body = JSON.stringify(init.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
  }
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  const method = init.method ?? 'GET';
  const requestId = init.requestId === undefined ? randomUUID() : init.requestId;

  const event: APIGatewayProxyEvent = {
    resource: '/{proxy+}',
    path: pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? single : null,
    multiValueQueryStringParameters: hasQuery ? multi : null,
    pathParameters: { proxy: pathname.replace(/^\//, '') },
    stageVariables: null,
    body,
    isBase64Encoded: init.isBase64Encoded ?? false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'testapi',
      authorizer: null,
      httpMethod: method,
      path: `/${init.stage ?? 'prod'}${pathname}`,
      protocol: 'HTTP/1.1',
      requestId: requestId ?? '',
      requestTimeEpoch: 1_767_225_600_000,
      resourceId: 'abc123',
      resourcePath: '/{proxy+}',
      stage: init.stage ?? 'prod',
      domainName: init.domainName ?? TEST_DOMAIN,
      domainPrefix: (init.domainName ?? TEST_DOMAIN).split('.')[0]!,
      identity: callerIdentity(init.sourceIp ?? '203.0.113.7', headers['User-Agent'] ?? 'jest'),
    },
  };
  if (requestId === null) delete (event as Partial<APIGatewayProxyEvent>).requestContext;
  return event;
}

/** The JSON body of a result (throws when it is not JSON). */
export function jsonBody<T = Record<string, unknown>>(result: APIGatewayProxyResult): T {
  return JSON.parse(result.body) as T;
}

/** A header of a result, by case-insensitive name. */
export function header(result: APIGatewayProxyResult, name: string): string | undefined {
  const entry = Object.entries(result.headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase());
  return entry === undefined ? undefined : String(entry[1]);
}

export class RecordingQueue implements Queue {
  readonly sent: { queue: QueueName; body: unknown; options?: SendOptions }[] = [];
  async send(queue: QueueName, body: unknown, options?: SendOptions) {
    this.sent.push({ queue, body, ...(options ? { options } : {}) });
    return { messageId: `msg-${this.sent.length}` };
  }
}

export class RecordingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage) {
    this.sent.push(message);
    return { messageId: `mail-${this.sent.length}` };
  }
}

const unused = (name: string) => () => Promise.reject(new Error(`BlobStore.${name} is not used by this test`));

/** A blob store for tests that must not touch blobs. */
export const unusedBlobs: BlobStore = {
  put: unused('put'),
  get: unused('get'),
  head: unused('head'),
  delete: unused('delete'),
  signedGetUrl: unused('signedGetUrl'),
  signedPutUrl: unused('signedPutUrl'),
  createMultipartUpload: unused('createMultipartUpload'),
  uploadPart: unused('uploadPart'),
  completeMultipartUpload: unused('completeMultipartUpload'),
  abortMultipartUpload: unused('abortMultipartUpload'),
};

/** Fixed secret material for tests. */
export const TEST_SECRETS: AppSecrets = { hmacKey: Buffer.alloc(32, 0x11), encryptionKey: Buffer.alloc(32, 0x22) };
export const testSecrets: SecretsProvider = { get: async () => TEST_SECRETS };

/** The configured public origin of the test config (with a trailing slash, which must not be doubled). */
export const PUBLIC_BASE_URL = 'https://api.example.test/prod/';
export const TEST_CONFIG: HttpConfig = { publicBaseUrl: PUBLIC_BASE_URL, maxBodyBytes: 4096, auth: DEFAULT_AUTH_CONFIG, defaultPlan: 'free' };

/** AppDeps around a real database, with fakes for the other ports. */
export function testDeps(database: Database, overrides: Partial<AppDeps> = {}): AppDeps {
  return {
    database,
    clock: new ManualClock(),
    ids: sequentialIds(),
    blobs: unusedBlobs,
    queue: new RecordingQueue(),
    mailer: new RecordingMailer(),
    secrets: testSecrets,
    config: TEST_CONFIG,
    ...overrides,
  };
}
