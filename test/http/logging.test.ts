/**
 * Tokens, passwords and cookies never reach the logs: everything the Powertools logger
 * writes (through its own Console on process.stdout / process.stderr) is captured while
 * requests carrying secrets go through the handler, including failures whose error
 * messages quote them. Also unit tests of the redacting replacer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createApiHandler, type ApiHandler } from '../../lambdas/http/api.js';
import { defineRoute } from '../../lambdas/http/route.js';
import { routes } from '../../lambdas/http/route-table.js';
import { logger, REDACTED, redactingReplacer, redactText } from '../../lambdas/shared/logger.js';
import { openEngine, type TestEngine } from '../support/engines.js';
import { apiEvent, testDeps, TEST_CONFIG, type EventInit } from '../support/http.js';
import { SECRET_PASSWORD, SECRET_TOKEN, testRoutes } from './test-routes.js';

const API = '/api/1.0';
const BEARER_TOKEN = 'sessTok_Zq81mWvN4xKc0pLr7sYbE2hUdJ6gFtA9';
const COOKIE_TOKEN = 'cookieTok_Hb3nQ9zLw5XeRk2PmYc8VtJ4sDgA1uF7';
const BODY_PASSWORD = 'BodyPw-Tr0ub4dor&3-horse';
const QUERY_TOKEN = 'queryTok_Mx5Rv2Lp8WcQ1nZk7HbT4yJe';
const SECRETS = [BEARER_TOKEN, COOKIE_TOKEN, BODY_PASSWORD, QUERY_TOKEN, SECRET_TOKEN, SECRET_PASSWORD];

const secretHeaders = { Authorization: `Bearer ${BEARER_TOKEN}`, Cookie: `session=${COOKIE_TOKEN}; theme=dark`, 'User-Agent': 'jest-logging' };

/** Everything written to stdout/stderr while capturing (not passed through). */
class OutputCapture {
  readonly chunks: string[] = [];
  #restore: (() => void) | undefined;

  start(): void {
    this.chunks.length = 0;
    const out = process.stdout.write;
    const err = process.stderr.write;
    const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
      this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    this.#restore = () => {
      process.stdout.write = out;
      process.stderr.write = err;
    };
  }

  stop(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  get text(): string {
    return this.chunks.join('');
  }

  /** The JSON log records written (one per line). */
  records(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

describe('request logs', () => {
  let engine: TestEngine;
  let handler: ApiHandler;
  const capture = new OutputCapture();

  beforeAll(async () => {
    logger.setLogLevel('INFO');
    engine = await openEngine('pglite');
    handler = createApiHandler(testDeps(engine, { config: { ...TEST_CONFIG, maxBodyBytes: 65_536 } }), [...routes, ...testRoutes]);
  });
  afterEach(() => capture.stop());
  afterAll(async () => {
    capture.stop();
    await engine?.close();
  });

  async function send(init: EventInit) {
    return handler(apiEvent({ ...init, headers: { ...secretHeaders, ...(init.headers ?? {}) } }));
  }

  test('requests carrying tokens, cookies and passwords are logged with request id and status, and without any secret', async () => {
    capture.start();
    const answers = [
      [await send({ path: `${API}/health?token=${QUERY_TOKEN}&password=${BODY_PASSWORD}`, requestId: 'log-req-health' }), 200],
      [await send({ method: 'POST', path: `${API}/echo?token=${QUERY_TOKEN}`, body: { data: { name: 'Ada', password: BODY_PASSWORD, token: BEARER_TOKEN } }, requestId: 'log-req-echo' }), 201],
      [await send({ method: 'POST', path: `${API}/echo`, body: { data: { name: 7, password: BODY_PASSWORD } }, requestId: 'log-req-invalid' }), 400],
      [await send({ method: 'POST', path: `${API}/echo`, body: `{"data":{"password":"${BODY_PASSWORD}"`, headers: { 'Content-Type': 'application/json' }, requestId: 'log-req-badjson' }), 400],
      [await send({ path: `${API}/boom?token=${QUERY_TOKEN}`, requestId: 'log-req-boom' }), 500],
      [await send({ path: `${API}/no-such-route/${BEARER_TOKEN}?password=${BODY_PASSWORD}`, requestId: 'log-req-404' }), 404],
    ] as const;
    capture.stop();

    for (const [result, status] of answers) expect(result.statusCode).toBe(status);
    const text = capture.text;
    expect(text.length).toBeGreaterThan(0);
    for (const secret of SECRETS) expect(text).not.toContain(secret);

    // Every line is a JSON record, and every request has a record with its id and status.
    const records = capture.records();
    for (const [id, status] of [
      ['log-req-health', 200],
      ['log-req-echo', 201],
      ['log-req-invalid', 400],
      ['log-req-badjson', 400],
      ['log-req-boom', 500],
      ['log-req-404', 404],
    ] as const) {
      expect(text).toContain(id);
      expect(records).toContainEqual(expect.objectContaining({ message: 'request', request_id: id, status }));
    }

    // The failure was logged (for the operator), with its message, the secrets masked.
    const boom = records.find((r) => r.request_id === 'log-req-boom' && r.level === 'ERROR');
    expect(boom).toBeDefined();
    const boomText = JSON.stringify(boom);
    expect(boomText).toContain('upstream said');
    expect(boomText).toContain(REDACTED);
  });

  test('an error carrying secrets in its properties (e.g. an HTTP client error with the request) is redacted', async () => {
    const leaky = defineRoute({
      method: 'GET',
      path: '/leaky',
      scope: 'api',
      operationId: 'testLeaky',
      summary: 'Throws an error with request details attached',
      tags: ['Test'],
      auth: 'none',
      request: {},
      responses: { 200: { description: 'Never' } },
      async handle() {
        throw Object.assign(new Error('request to identity provider failed'), {
          config: { headers: { Authorization: `Bearer ${BEARER_TOKEN}`, Cookie: `session=${COOKIE_TOKEN}` }, data: { password: BODY_PASSWORD } },
          token: SECRET_TOKEN,
          url: `https://idp.example.test/cb?token=${QUERY_TOKEN}`,
        });
      },
    });
    const leakyHandler = createApiHandler(testDeps(engine), [leaky]);
    capture.start();
    const result = await leakyHandler(apiEvent({ path: `${API}/leaky`, requestId: 'log-req-leaky', headers: secretHeaders }));
    capture.stop();
    expect(result.statusCode).toBe(500);
    const text = capture.text;
    expect(text).toContain('log-req-leaky');
    expect(text).toContain('request to identity provider failed');
    expect(text).toContain('idp.example.test');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });
});

describe('redactingReplacer', () => {
  const stringify = (value: unknown) => JSON.parse(JSON.stringify(value, redactingReplacer)) as unknown;

  test('secret keys are redacted wherever they sit, case-insensitively; other keys are kept', () => {
    const input = {
      name: 'Ada',
      email: 'ada@example.test',
      count: 3,
      password: 'p1',
      Password: 'p2',
      new_password: 'p3',
      passwd: 'p4',
      token: 't1',
      access_token: 't2',
      refreshToken: 't3',
      Authorization: 'Bearer t4',
      cookie: 'session=c1',
      'Set-Cookie': ['session=c2; HttpOnly'],
      secret: 's1',
      client_secret: 's2',
      nested: {
        deep: { apiKey: 'k1', 'x-api-key': 'k2', session_id: 'i1', sessionId: 'i2', signature: 'g1', sig: 'g2', credentials: { user: 'u', pass: 'p5' } },
        headers: { authorization: 'Basic dTpw', 'content-type': 'application/json' },
      },
      list: [{ token: 't5', gid: '123' }, { other: 'fine' }],
    };
    expect(stringify(input)).toEqual({
      name: 'Ada',
      email: 'ada@example.test',
      count: 3,
      password: REDACTED,
      Password: REDACTED,
      new_password: REDACTED,
      passwd: REDACTED,
      token: REDACTED,
      access_token: REDACTED,
      refreshToken: REDACTED,
      Authorization: REDACTED,
      cookie: REDACTED,
      'Set-Cookie': REDACTED,
      secret: REDACTED,
      client_secret: REDACTED,
      nested: {
        deep: { apiKey: REDACTED, 'x-api-key': REDACTED, session_id: REDACTED, sessionId: REDACTED, signature: REDACTED, sig: REDACTED, credentials: REDACTED },
        headers: { authorization: REDACTED, 'content-type': 'application/json' },
      },
      list: [{ token: REDACTED, gid: '123' }, { other: 'fine' }],
    });
  });

  test('a whole object under a secret key is replaced, not walked', () => {
    expect(stringify({ token: { value: 'x', expires: 1 } })).toEqual({ token: REDACTED });
  });

  test('null and absent secrets stay as they are; bigints become strings', () => {
    expect(JSON.stringify({ password: null, token: undefined, n: 12345678901234567890n }, redactingReplacer)).toBe('{"password":null,"n":"12345678901234567890"}');
  });

  test('free text under any key is redacted too', () => {
    expect(stringify({ message: `failed: Bearer ${SECRET_TOKEN}`, list: [`url?token=${QUERY_TOKEN}`] })).toEqual({
      message: `failed: Bearer ${REDACTED}`,
      list: [`url?token=${REDACTED}`],
    });
  });

  test('the logger applies it: a secret key in a log call never reaches the output', () => {
    const capture = new OutputCapture();
    capture.start();
    try {
      logger.info('login attempt', { email: 'ada@example.test', password: SECRET_PASSWORD, headers: { authorization: `Bearer ${SECRET_TOKEN}` }, note: `password=${SECRET_PASSWORD}` });
    } finally {
      capture.stop();
    }
    expect(capture.text).toContain('login attempt');
    expect(capture.text).toContain('ada@example.test');
    expect(capture.text).not.toContain(SECRET_PASSWORD);
    expect(capture.text).not.toContain(SECRET_TOKEN);
  });
});

describe('redactText', () => {
  test.each([
    [`Authorization: Bearer ${SECRET_TOKEN}`, `Authorization: Bearer ${REDACTED}`],
    ['bearer abc.DEF_ghi-jkl~mno+/=', `bearer ${REDACTED}`],
    ['Basic dXNlcjpwYXNzd29yZA==', `Basic ${REDACTED}`],
    [`password=${SECRET_PASSWORD}`, `password=${REDACTED}`],
    ['PASSWORD=abc def', `PASSWORD=${REDACTED} def`],
    ['/cb?token=abc123&state=xyz', `/cb?token=${REDACTED}&state=xyz`],
    ['https://s3.example/k?X-Amz-Signature=deadbeef&X-Amz-Security-Token=FQoG', `https://s3.example/k?X-Amz-Signature=${REDACTED}&X-Amz-Security-Token=${REDACTED}`],
    ['https://x/file?sig=abc', `https://x/file?sig=${REDACTED}`],
    ['"token=abc" in quotes', `"token=${REDACTED}" in quotes`],
  ])('%j -> %j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  test('text without credentials is unchanged', () => {
    for (const text of ['Task 1204567890123456 not found', 'limit=10&offset=abc', 'the tokenizer said hi', 'Bearer', 'password reset requested for ada@example.test']) {
      expect(redactText(text)).toBe(text);
    }
  });

  test('a long token is removed whole, not partly', () => {
    const token = 'A'.repeat(40) + '.' + 'b'.repeat(40) + '-' + 'C_'.repeat(20);
    const out = redactText(`Bearer ${token} then more`);
    expect(out).toBe(`Bearer ${REDACTED} then more`);
  });
});
