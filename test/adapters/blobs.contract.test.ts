/**
 * One BlobStore contract, run against LocalBlobs (temp dir) and S3Blobs (an in-memory
 * fake S3 behind aws-sdk-client-mock), then the parts only one store has: the local
 * signed-URL server and the S3 presigner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NoSuchUpload,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock } from '../../lambdas/adapters/clock.js';
import { LocalBlobs } from '../../lambdas/adapters/blobs/local-blobs.js';
import { S3Blobs, attachmentDisposition, type Presigner } from '../../lambdas/adapters/blobs/s3-blobs.js';
import type { BlobStore } from '../../lambdas/adapters/ports.js';

const MiB = 1024 * 1024;
const BUCKET = 'test-bucket';
const BASE_URL = 'http://localhost:3000';

// ---------------------------------------------------------------- helpers

async function readAll(stream: Readable | string | undefined | null): Promise<Buffer> {
  if (stream == null) throw new Error('no body');
  if (typeof stream === 'string') return Buffer.from(stream);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A stream of size random bytes in 64 KiB chunks, and the sha256 of what it produced. */
function randomStream(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  function* chunks() {
    for (let sent = 0; sent < size; ) {
      const chunk = randomBytes(Math.min(64 * 1024, size - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), sha256: () => hash.digest('hex') };
}

function s3Error<T extends S3ServiceException>(
  Cls: new (opts: { $metadata: object; message: string }) => T,
  message: string,
): T {
  return new Cls({ $metadata: { httpStatusCode: 404 }, message });
}

function s3ClientError(name: string, message: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

async function toBuffer(body: unknown): Promise<Buffer> {
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return readAll(body as Readable);
  }
  throw new Error(`fake S3: unsupported body ${typeof body}`);
}

/**
 * An in-memory S3 with the semantics the store relies on: NoSuchKey/NotFound for
 * missing objects, idempotent deletes, multipart parts replaced on re-upload, and
 * CompleteMultipartUpload insisting (as S3 does) on ascending part numbers, matching
 * ETags and 5 MiB minimum parts.
 */
// Every fake is async: lib-storage chains .then() on client.send(), and a sync fake
// would make send() return a bare object.
function fakeS3() {
  const client = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  });
  const mock = mockClient(client);
  interface StoredObject {
    body: Buffer;
    contentType?: string | undefined;
    contentDisposition?: string | undefined;
  }
  const objects = new Map<string, StoredObject>();
  const uploads = new Map<string, { key: string; meta: Omit<StoredObject, 'body'>; parts: Map<number, Buffer> }>();
  const etag = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
  const checkBucket = (bucket: string | undefined) => {
    if (bucket !== BUCKET) throw s3ClientError('NoSuchBucket', `fake S3: unexpected bucket ${bucket}`);
  };

  mock.on(PutObjectCommand).callsFake(async (input) => {
    checkBucket(input.Bucket);
    const body = await toBuffer(input.Body);
    objects.set(input.Key!, { body, contentType: input.ContentType, contentDisposition: input.ContentDisposition });
    return { ETag: etag(body) };
  });
  mock.on(GetObjectCommand).callsFake(async (input) => {
    checkBucket(input.Bucket);
    const o = objects.get(input.Key!);
    if (!o) throw s3Error(NoSuchKey, 'The specified key does not exist.');
    return { Body: Readable.from([o.body]), ContentLength: o.body.length, ContentType: o.contentType };
  });
  mock.on(HeadObjectCommand).callsFake(async (input) => {
    checkBucket(input.Bucket);
    const o = objects.get(input.Key!);
    if (!o) throw s3Error(NotFound, 'NotFound');
    return { ContentLength: o.body.length, ContentType: o.contentType };
  });
  mock.on(DeleteObjectCommand).callsFake(async (input) => {
    checkBucket(input.Bucket);
    objects.delete(input.Key!);
    return {};
  });
  mock.on(CreateMultipartUploadCommand).callsFake(async (input) => {
    checkBucket(input.Bucket);
    const uploadId = randomBytes(8).toString('hex');
    uploads.set(uploadId, {
      key: input.Key!,
      meta: { contentType: input.ContentType, contentDisposition: input.ContentDisposition },
      parts: new Map(),
    });
    return { UploadId: uploadId, Bucket: input.Bucket, Key: input.Key };
  });
  const openUpload = (input: { Bucket?: string | undefined; Key?: string | undefined; UploadId?: string | undefined }) => {
    checkBucket(input.Bucket);
    const upload = uploads.get(input.UploadId!);
    if (!upload || upload.key !== input.Key) throw s3Error(NoSuchUpload, 'The specified upload does not exist.');
    return upload;
  };
  mock.on(UploadPartCommand).callsFake(async (input) => {
    const upload = openUpload(input);
    const body = await toBuffer(input.Body);
    upload.parts.set(input.PartNumber!, body);
    return { ETag: etag(body) };
  });
  mock.on(CompleteMultipartUploadCommand).callsFake(async (input) => {
    const upload = openUpload(input);
    const listed: CompletedPart[] = input.MultipartUpload?.Parts ?? [];
    if (listed.length === 0) throw s3ClientError('MalformedXML', 'no parts');
    const bodies = listed.map((p, i) => {
      if (i > 0 && p.PartNumber! <= listed[i - 1]!.PartNumber!) throw s3ClientError('InvalidPartOrder', 'parts out of order');
      const body = upload.parts.get(p.PartNumber!);
      if (!body || etag(body) !== p.ETag) throw s3ClientError('InvalidPart', `part ${p.PartNumber} missing or wrong ETag`);
      if (i < listed.length - 1 && body.length < 5 * MiB) throw s3ClientError('EntityTooSmall', 'part too small');
      return body;
    });
    objects.set(upload.key, { body: Buffer.concat(bodies), ...upload.meta });
    uploads.delete(input.UploadId!);
    return { Bucket: input.Bucket, Key: upload.key, ETag: '"multipart"' };
  });
  mock.on(AbortMultipartUploadCommand).callsFake(async (input) => {
    openUpload(input);
    uploads.delete(input.UploadId!);
    return {};
  });
  return { client, mock, objects, uploads };
}

interface Harness {
  store: BlobStore;
  cleanup(): Promise<void>;
}

const stores: Array<[string, () => Promise<Harness>]> = [
  [
    'LocalBlobs',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'blobs-contract-'));
      return {
        store: new LocalBlobs({ root, baseUrl: BASE_URL, secret: 'test-secret' }),
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
  ],
  [
    'S3Blobs',
    async () => {
      const fake = fakeS3();
      return {
        store: new S3Blobs({ client: fake.client, bucket: BUCKET, keyPrefix: 'blobs/' }),
        cleanup: async () => fake.mock.restore(),
      };
    },
  ],
];

// ---------------------------------------------------------------- contract

describe.each(stores)('BlobStore contract: %s', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  test('put then get returns the bytes; head reports size and content type', async () => {
    await h.store.put('a/string.txt', 'héllo wörld', { contentType: 'text/plain; charset=utf-8' });
    await h.store.put('a/bytes.bin', new Uint8Array([0, 1, 2, 255]));
    await h.store.put('a/stream.txt', Readable.from([Buffer.from('chunk1-'), Buffer.from('chunk2')]));

    expect((await readAll(await h.store.get('a/string.txt'))).toString('utf8')).toBe('héllo wörld');
    expect([...(await readAll(await h.store.get('a/bytes.bin')))]).toEqual([0, 1, 2, 255]);
    expect((await readAll(await h.store.get('a/stream.txt'))).toString()).toBe('chunk1-chunk2');
    expect(await h.store.head('a/string.txt')).toEqual({
      size: Buffer.byteLength('héllo wörld'),
      contentType: 'text/plain; charset=utf-8',
    });
    expect((await h.store.head('a/bytes.bin'))?.size).toBe(4);
  });

  test('a 12 MiB stream uploads and reads back byte for byte', async () => {
    const source = randomStream(12 * MiB);
    await h.store.put('exports/big.bin', source.stream, { contentType: 'application/octet-stream' });
    const back = await readAll(await h.store.get('exports/big.bin'));
    expect(back.length).toBe(12 * MiB);
    expect(sha256(back)).toBe(source.sha256());
    expect((await h.store.head('exports/big.bin'))?.size).toBe(12 * MiB);
  });

  test('a missing blob: get and head return null', async () => {
    expect(await h.store.get('nope/missing.txt')).toBeNull();
    expect(await h.store.head('nope/missing.txt')).toBeNull();
  });

  test('delete removes the blob and deleting again (or a missing key) is not an error', async () => {
    await h.store.put('d/x.txt', 'x');
    await h.store.delete('d/x.txt');
    expect(await h.store.get('d/x.txt')).toBeNull();
    await expect(h.store.delete('d/x.txt')).resolves.toBeUndefined();
    await expect(h.store.delete('d/never.txt')).resolves.toBeUndefined();
  });

  test('put replaces an existing blob, including its content type', async () => {
    await h.store.put('o.txt', 'first version', { contentType: 'text/plain' });
    await h.store.put('o.txt', '{"v":2}', { contentType: 'application/json' });
    expect((await readAll(await h.store.get('o.txt'))).toString()).toBe('{"v":2}');
    expect(await h.store.head('o.txt')).toEqual({ size: 7, contentType: 'application/json' });
  });

  test('keys differing only in case, and a key that prefixes another, are distinct blobs', async () => {
    await h.store.put('k/Report', 'upper');
    await h.store.put('k/report', 'lower');
    await h.store.put('k/report/part', 'nested');
    expect((await readAll(await h.store.get('k/Report'))).toString()).toBe('upper');
    expect((await readAll(await h.store.get('k/report'))).toString()).toBe('lower');
    expect((await readAll(await h.store.get('k/report/part'))).toString()).toBe('nested');
  });

  test('resumable multipart: parts uploaded and listed out of order complete in part order', async () => {
    const first = randomBytes(5 * MiB);
    const last = Buffer.from('the tail');
    const { uploadId } = await h.store.createMultipartUpload('exports/mp.bin', { contentType: 'application/gzip' });
    // The last part finishes first, as with parallel uploads; a worker checkpoints in that order.
    const p2 = await h.store.uploadPart('exports/mp.bin', uploadId, 2, last);
    const p1 = await h.store.uploadPart('exports/mp.bin', uploadId, 1, first);
    expect(p1.partNumber).toBe(1);
    expect(p2.etag).not.toBe(p1.etag);
    expect(await h.store.get('exports/mp.bin')).toBeNull(); // invisible until completed

    await h.store.completeMultipartUpload('exports/mp.bin', uploadId, [p2, p1]);
    const back = await readAll(await h.store.get('exports/mp.bin'));
    expect(sha256(back)).toBe(sha256(Buffer.concat([first, last])));
    expect(await h.store.head('exports/mp.bin')).toEqual({ size: first.length + last.length, contentType: 'application/gzip' });
  });

  test('re-uploading a part replaces it (a retried worker)', async () => {
    const { uploadId } = await h.store.createMultipartUpload('r.bin');
    await h.store.uploadPart('r.bin', uploadId, 1, Buffer.from('stale'));
    const part = await h.store.uploadPart('r.bin', uploadId, 1, Buffer.from('fresh'));
    await h.store.completeMultipartUpload('r.bin', uploadId, [part]);
    expect((await readAll(await h.store.get('r.bin'))).toString()).toBe('fresh');
  });

  test('abort discards the upload; aborting twice is not an error', async () => {
    const { uploadId } = await h.store.createMultipartUpload('ab.bin');
    const part = await h.store.uploadPart('ab.bin', uploadId, 1, Buffer.from('x'));
    await h.store.abortMultipartUpload('ab.bin', uploadId);
    await expect(h.store.abortMultipartUpload('ab.bin', uploadId)).resolves.toBeUndefined();
    await expect(h.store.uploadPart('ab.bin', uploadId, 2, Buffer.from('y'))).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(h.store.completeMultipartUpload('ab.bin', uploadId, [part])).rejects.toMatchObject({ name: 'NoSuchUpload' });
    expect(await h.store.get('ab.bin')).toBeNull();
  });

  test.each(['../etc/passwd', 'a/../../b', '/abs/path', 'a\u0000b', 'a\nb', '', 'a//b', './a', 'a\\..\\b'])(
    'the invalid key %j is rejected',
    async (key) => {
      await expect(h.store.put(key, 'x')).rejects.toThrow(/Invalid blob key/);
      await expect(h.store.get(key)).rejects.toThrow(/Invalid blob key/);
      await expect(h.store.delete(key)).rejects.toThrow(/Invalid blob key/);
      await expect(h.store.signedGetUrl(key, { expiresInSeconds: 60 })).rejects.toThrow(/Invalid blob key/);
      await expect(h.store.createMultipartUpload(key)).rejects.toThrow(/Invalid blob key/);
    },
  );

  test('signed URLs are limited to 7 days, as on S3', async () => {
    await expect(h.store.signedGetUrl('a.txt', { expiresInSeconds: 7 * 24 * 3600 })).resolves.toMatch(/^http/);
    await expect(h.store.signedGetUrl('a.txt', { expiresInSeconds: 7 * 24 * 3600 + 1 })).rejects.toThrow();
  });
});

// ---------------------------------------------------------------- LocalBlobs only

describe('LocalBlobs', () => {
  let root: string;
  let clock: ManualClock;
  let store: LocalBlobs;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'local-blobs-'));
    clock = new ManualClock('2026-03-01T10:00:00.000Z');
    store = new LocalBlobs({ root, baseUrl: `${BASE_URL}/`, secret: new Uint8Array(randomBytes(32)), clock });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** What the local HTTP server passes on: path and query of the signed URL. */
  const request = (method: string, signedUrl: string, extra: { body?: Readable; headers?: Record<string, string> } = {}) => {
    const u = new URL(signedUrl);
    return store.handleSignedRequest({ method, url: u.pathname + u.search, ...extra });
  };

  const errorMessage = async (body: Readable | string | undefined) =>
    (JSON.parse((await readAll(body)).toString()) as { errors: Array<{ message: string }> }).errors[0]?.message;

  test('a signed GET URL serves the bytes with safe download headers', async () => {
    await store.put('exports/7/data file.json', '{"ok":true}', { contentType: 'application/json' });
    const url = await store.signedGetUrl('exports/7/data file.json', {
      expiresInSeconds: 300,
      downloadFilename: 'Résumé "final".json',
    });
    expect(url.startsWith(`${BASE_URL}/_local/blobs/exports/7/data%20file.json?`)).toBe(true);
    expect(new URL(url).searchParams.get('expires')).toBe(String(Date.parse('2026-03-01T10:00:00Z') / 1000 + 300));

    const res = await request('GET', url);
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({
      'Content-Type': 'application/json',
      'Content-Length': '11',
      'Content-Disposition': `attachment; filename="R_sum_ _final_.json"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.json`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    expect((await readAll(res.body)).toString()).toBe('{"ok":true}');
  });

  test('a tampered signature, key or disposition is refused with 403', async () => {
    await store.put('a.txt', 'A');
    await store.put('b.txt', 'B');
    const url = new URL(await store.signedGetUrl('a.txt', { expiresInSeconds: 60, downloadFilename: 'a.txt' }));

    const badSig = new URL(url);
    const sig = badSig.searchParams.get('sig')!;
    badSig.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const otherKey = new URL(url);
    otherKey.pathname = '/_local/blobs/b.txt';
    const otherDisposition = new URL(url);
    otherDisposition.searchParams.set('disposition', 'inline');
    const noSig = new URL(url);
    noSig.searchParams.delete('sig');

    for (const tampered of [badSig, otherKey, otherDisposition, noSig]) {
      const res = await request('GET', tampered.href);
      expect(res.status).toBe(403);
      expect(res.headers['Content-Type']).toMatch(/^application\/json/);
      expect(await errorMessage(res.body)).toMatch(/signature|not signed/);
    }
    expect((await request('GET', url.href)).status).toBe(200); // the untouched URL still works
  });

  test('an expired URL is refused with 403', async () => {
    await store.put('e.txt', 'E');
    const url = await store.signedGetUrl('e.txt', { expiresInSeconds: 60 });
    clock.advance(60_000);
    expect((await request('GET', url)).status).toBe(200); // valid through its last second
    clock.advance(1_000);
    const res = await request('GET', url);
    expect(res.status).toBe(403);
    expect(await errorMessage(res.body)).toMatch(/expired/);
  });

  test('a URL used with another method is refused with 403', async () => {
    await store.put('m.txt', 'original');
    const getUrl = await store.signedGetUrl('m.txt', { expiresInSeconds: 60 });
    const res = await request('PUT', getUrl, { body: Readable.from(['overwritten']) });
    expect(res.status).toBe(403);
    expect((await readAll(await store.get('m.txt'))).toString()).toBe('original');

    const putUrl = await store.signedPutUrl('m.txt', { expiresInSeconds: 60 });
    expect((await request('GET', putUrl)).status).toBe(403);
    expect((await request('DELETE', putUrl)).status).toBe(403);
  });

  test('a signed PUT URL stores the body with the signed content type', async () => {
    const url = await store.signedPutUrl('uploads/u.csv', { expiresInSeconds: 60, contentType: 'text/csv' });
    const wrongType = await request('PUT', url, { body: Readable.from(['x']), headers: { 'content-type': 'text/html' } });
    expect(wrongType.status).toBe(403);
    expect(await store.head('uploads/u.csv')).toBeNull();

    const res = await request('PUT', url, { body: Readable.from(['a,b\n', '1,2\n']), headers: { 'content-type': 'text/csv' } });
    expect(res.status).toBe(200);
    expect(res.headers.ETag).toBe(`"${createHash('md5').update('a,b\n1,2\n').digest('hex')}"`);
    expect(await store.head('uploads/u.csv')).toEqual({ size: 8, contentType: 'text/csv' });
    expect((await readAll(await store.get('uploads/u.csv'))).toString()).toBe('a,b\n1,2\n');
  });

  test('a validly signed URL for a missing blob is a 404', async () => {
    const res = await request('GET', await store.signedGetUrl('gone.txt', { expiresInSeconds: 60 }));
    expect(res.status).toBe(404);
    expect(await errorMessage(res.body)).toBe('No such blob');
  });

  test('request paths that do not name a valid key are refused', async () => {
    const qs = new URL(await store.signedGetUrl('x.txt', { expiresInSeconds: 60 })).search;
    expect((await store.handleSignedRequest({ method: 'GET', url: `/_local/blobs/..%2F..%2Fetc%2Fpasswd${qs}` })).status).toBe(400);
    expect((await store.handleSignedRequest({ method: 'GET', url: `/_local/blobs/a%00b${qs}` })).status).toBe(400);
    expect((await store.handleSignedRequest({ method: 'GET', url: `/elsewhere/x.txt${qs}` })).status).toBe(404);
  });

  test('an upload id cannot name a directory outside the staging area', async () => {
    await store.put('victim.txt', 'keep me');
    for (const uploadId of ['../objects', '../../..', 'AAAAAAAAAAAAAAAAAAAAA/..']) {
      await expect(store.uploadPart('victim.txt', uploadId, 1, Buffer.from('x'))).rejects.toMatchObject({ name: 'NoSuchUpload' });
      await expect(store.abortMultipartUpload('victim.txt', uploadId)).resolves.toBeUndefined();
    }
    expect((await readAll(await store.get('victim.txt'))).toString()).toBe('keep me');
  });

  test('every part but the last must be at least 5 MiB', async () => {
    const { uploadId } = await store.createMultipartUpload('small.bin');
    const p1 = await store.uploadPart('small.bin', uploadId, 1, randomBytes(5 * MiB - 1));
    const p2 = await store.uploadPart('small.bin', uploadId, 2, Buffer.from('tail'));
    await expect(store.completeMultipartUpload('small.bin', uploadId, [p1, p2])).rejects.toMatchObject({ name: 'EntityTooSmall' });
    expect(await store.get('small.bin')).toBeNull();
    // A single small part is the last part, so it is fine.
    await expect(store.completeMultipartUpload('small.bin', uploadId, [p2])).resolves.toBeUndefined();
    expect((await readAll(await store.get('small.bin'))).toString()).toBe('tail');
  });

  test('complete checks ETags and part numbers; a failed complete leaves the upload open', async () => {
    const { uploadId } = await store.createMultipartUpload('etag.bin');
    const p1 = await store.uploadPart('etag.bin', uploadId, 1, Buffer.from('one'));
    await expect(store.completeMultipartUpload('etag.bin', uploadId, [{ partNumber: 1, etag: '"0123"' }])).rejects.toMatchObject({
      name: 'InvalidPart',
    });
    await expect(store.completeMultipartUpload('etag.bin', uploadId, [{ partNumber: 3, etag: p1.etag }])).rejects.toMatchObject({
      name: 'InvalidPart',
    });
    await expect(store.completeMultipartUpload('etag.bin', uploadId, [p1, p1])).rejects.toMatchObject({ name: 'InvalidPartOrder' });
    expect(await store.get('etag.bin')).toBeNull();
    expect(await readdir(join(root, 'tmp'))).toEqual([]); // the discarded concatenation is gone
    await store.completeMultipartUpload('etag.bin', uploadId, [p1]);
    expect((await readAll(await store.get('etag.bin'))).toString()).toBe('one');
  });

  test('a write that fails midway leaves the previous blob intact and no partial file', async () => {
    await store.put('atomic.txt', 'old content', { contentType: 'text/plain' });
    async function* failing() {
      yield Buffer.from('new content, part one');
      throw new Error('connection reset');
    }
    await expect(store.put('atomic.txt', Readable.from(failing()), { contentType: 'text/html' })).rejects.toThrow('connection reset');
    expect((await readAll(await store.get('atomic.txt'))).toString()).toBe('old content');
    expect(await store.head('atomic.txt')).toEqual({ size: 11, contentType: 'text/plain' });
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  test('keys never become file names', async () => {
    await store.put('users/alice/secret.txt', 's');
    const all = await readdir(root, { recursive: true });
    expect(all.some((p) => p.includes('alice') || p.includes('secret'))).toBe(false);
  });

  test('refuses an empty secret', () => {
    expect(() => new LocalBlobs({ root, baseUrl: BASE_URL, secret: '' })).toThrow(/secret/);
  });
});

// ---------------------------------------------------------------- S3Blobs only

describe('S3Blobs', () => {
  let fake: ReturnType<typeof fakeS3>;
  beforeEach(() => {
    fake = fakeS3();
  });
  afterEach(() => {
    fake.mock.restore();
  });

  test('small puts are one PutObject under the key prefix, KMS-encrypted', async () => {
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET, keyPrefix: 'blobs/', kmsKeyId: 'alias/tasks' });
    await store.put('a/b.json', '{}', { contentType: 'application/json', contentDisposition: 'inline' });
    const calls = fake.mock.commandCalls(PutObjectCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({
      Bucket: BUCKET,
      Key: 'blobs/a/b.json',
      ContentType: 'application/json',
      ContentDisposition: 'inline',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/tasks',
    });
    expect([...fake.objects.keys()]).toEqual(['blobs/a/b.json']);
  });

  test('a 12 MiB stream goes up as a KMS-encrypted multipart upload', async () => {
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET });
    const source = randomStream(12 * MiB);
    await store.put('big.bin', source.stream);
    expect(fake.mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(fake.mock.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      Key: 'big.bin',
      ServerSideEncryption: 'aws:kms',
    });
    expect(fake.mock.commandCalls(UploadPartCommand).length).toBeGreaterThanOrEqual(2);
    expect(fake.mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(1);
    expect(sha256(fake.objects.get('big.bin')!.body)).toBe(source.sha256());
  });

  test('signed URLs go through the presigner with bucket, prefixed key, expiry and disposition', async () => {
    const presign = jest.fn<Presigner>().mockResolvedValue('https://signed.example/x');
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET, keyPrefix: 'p/', presign });

    expect(await store.signedGetUrl('exports/1.json.gz', { expiresInSeconds: 300, downloadFilename: 'export.json.gz' })).toBe(
      'https://signed.example/x',
    );
    const [client, command, options] = presign.mock.calls[0]!;
    expect(client).toBe(fake.client);
    expect(command).toBeInstanceOf(GetObjectCommand);
    expect(command.input).toEqual({
      Bucket: BUCKET,
      Key: 'p/exports/1.json.gz',
      ResponseContentDisposition: attachmentDisposition('export.json.gz'),
      ResponseContentType: undefined,
    });
    expect(options).toEqual({ expiresIn: 300 });

    await store.signedPutUrl('in/u.csv', { expiresInSeconds: 120, contentType: 'text/csv' });
    const [, putCommand, putOptions] = presign.mock.calls[1]!;
    expect(putCommand).toBeInstanceOf(PutObjectCommand);
    expect(putCommand.input).toEqual({ Bucket: BUCKET, Key: 'p/in/u.csv', ContentType: 'text/csv' });
    expect(putOptions).toEqual({ expiresIn: 120 });
  });

  test('the real presigner signs offline with the requested expiry and disposition', async () => {
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET });
    const url = new URL(await store.signedGetUrl('exports/é 1.csv', { expiresInSeconds: 900, downloadFilename: 'é 1.csv' }));
    expect(url.hostname).toBe(`${BUCKET}.s3.us-east-1.amazonaws.com`);
    expect(decodeURIComponent(url.pathname)).toBe('/exports/é 1.csv');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\//);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('response-content-disposition')).toBe(attachmentDisposition('é 1.csv'));
  });

  test('abort ignores NoSuchUpload but not other errors', async () => {
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET });
    await expect(store.abortMultipartUpload('x', 'never-created')).resolves.toBeUndefined();
    fake.mock.on(AbortMultipartUploadCommand).rejects(s3ClientError('AccessDenied', 'denied'));
    await expect(store.abortMultipartUpload('x', 'whatever')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  test('errors other than a missing key are not mistaken for one', async () => {
    const store = new S3Blobs({ client: fake.client, bucket: BUCKET });
    fake.mock.on(GetObjectCommand).rejects(s3ClientError('AccessDenied', 'denied'));
    await expect(store.get('x')).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('attachmentDisposition', () => {
  test('keeps header-breaking characters and directories out', () => {
    expect(attachmentDisposition('a\r\nSet-Cookie: x=1.txt')).toBe(
      `attachment; filename="aSet-Cookie: x=1.txt"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1.txt`,
    );
    expect(attachmentDisposition('../../etc/passwd')).toBe(
      `attachment; filename=".._.._etc_passwd"; filename*=UTF-8''.._.._etc_passwd`,
    );
    expect(attachmentDisposition("it's (1)*.txt")).toBe(
      `attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`,
    );
    expect(attachmentDisposition('')).toBe(`attachment; filename="download"; filename*=UTF-8''download`);
  });
});
