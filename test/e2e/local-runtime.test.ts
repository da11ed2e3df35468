/** The local runtime in-process: signed blob downloads and the body limit at the socket. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal, type LocalRuntime } from '../../lambdas/local/runtime.js';
import { logger } from '../../lambdas/shared/logger.js';

let runtime: LocalRuntime;
let dataDir: string;

beforeAll(async () => {
  logger.setLogLevel('SILENT');
  dataDir = await mkdtemp(join(tmpdir(), 'local-runtime-'));
  runtime = await startLocal({ dataDir, port: 0, maxBodyBytes: 1024 });
});
afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('blobs download through HMAC-signed, expiring URLs served by the local server', async () => {
  await runtime.deps.blobs.put('exports/1/report.csv', 'a,b\n1,2\n', { contentType: 'text/csv' });
  const url = await runtime.deps.blobs.signedGetUrl('exports/1/report.csv', { expiresInSeconds: 60, downloadFilename: 'Report Ü.csv' });
  expect(url.startsWith(`${runtime.baseUrl}/_local/blobs/`)).toBe(true);
  const ok = await fetch(url);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe('a,b\n1,2\n');
  expect(ok.headers.get('content-disposition')).toContain('attachment');
  expect(ok.headers.get('x-content-type-options')).toBe('nosniff');

  const tampered = url.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
  expect((await fetch(tampered)).status).toBe(403);
  const otherKey = url.replace('report.csv', 'other.csv');
  expect((await fetch(otherKey)).status).toBe(403);
});

test('a body over the limit is refused with 413 before it is read whole', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${runtime.baseUrl}/api/1.0/health`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 * 1024) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write('x'.repeat(2048));
  });
  expect(status).toBe(413);

  const chunked = await fetch(`${runtime.baseUrl}/api/1.0/health`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: 'x'.repeat(4096) }) });
  expect(chunked.status).toBe(413);
  expect(((await chunked.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/larger than 1024 bytes/);
});

test('the API sees the caller\'s address as API Gateway would (requestContext.identity.sourceIp)', async () => {
  const res = await fetch(`${runtime.baseUrl}/api/1.0/health`);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});
