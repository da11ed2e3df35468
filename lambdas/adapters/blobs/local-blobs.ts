/**
 * BlobStore on the local file system, for `npm start` and tests.
 *
 * Layout under root:
 *   objects/ab/<sha256(key)>        the bytes
 *   objects/ab/<sha256(key)>.json   sidecar: key, content type, content disposition
 *   uploads/<uploadId>/             multipart staging: upload.json and <n>.part files
 *   tmp/                            files being written
 * File names are hashes of the keys, so keys can never name a path outside root, and
 * keys differing only in case, or "a" next to "a/b", behave as on S3 on any file system.
 *
 * Every write goes to tmp/, is fsynced and then renamed into place: a crash never
 * leaves a half-written blob visible. The sidecar is renamed just before the bytes, so
 * the worst a crash can leave is an overwritten blob's old bytes with its new metadata.
 *
 * Signed URLs are served by the local HTTP server through handleSignedRequest:
 *   {baseUrl}/_local/blobs/{key}?expires=<unix s>&method=GET|PUT[&disposition=..][&type=..]&sig=<HMAC>
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { systemClock } from '../clock.js';
import type { BlobHead, BlobStore, Clock, PutOptions, SignedUrlOptions, UploadedPart } from '../ports.js';
import { assertValidBlobKey, attachmentDisposition } from './s3-blobs.js';

export interface LocalBlobsOptions {
  /** Directory holding the blobs, normally `$LOCAL_DATA_DIR/blobs`. */
  root: string;
  /** Origin of the local HTTP server, e.g. "http://localhost:3000". */
  baseUrl: string;
  /** HMAC key for signed URLs. */
  secret: Uint8Array | string;
  /** Decides when signed URLs expire; injectable for tests. */
  clock?: Clock;
}

/** A request under /_local/blobs/, as the local HTTP server hands it over. */
export interface SignedRequest {
  method: string;
  /** Path and query, e.g. "/_local/blobs/exports/1.json?expires=...". */
  url: string;
  /** Request headers, if given a PUT signed with a content type must send that Content-Type. */
  headers?: Record<string, string | string[] | undefined>;
  body?: Readable;
}

export interface SignedResponse {
  status: number;
  headers: Record<string, string>;
  body?: Readable | string;
}

export const LOCAL_BLOBS_PATH = '/_local/blobs/';

const MIN_PART_SIZE = 5 * 1024 * 1024; // S3's minimum for every part but the last
const MAX_PART_NUMBER = 10_000;
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600; // S3's limit for presigned URLs
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/; // 16 random bytes, base64url

interface Metadata {
  key: string;
  contentType?: string;
  contentDisposition?: string;
}

/** Errors carry S3's error code as their name, so callers can treat both stores alike. */
function blobError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** S3 ETags are quoted hex MD5s; callers may hand them back with or without quotes. */
function quoteEtag(etag: string): string {
  return `"${etag.replace(/^"|"$/g, '')}"`;
}

export class LocalBlobs implements BlobStore {
  readonly #root: string;
  readonly #baseUrl: string;
  readonly #secret: Buffer;
  readonly #clock: Clock;

  constructor(options: LocalBlobsOptions) {
    this.#root = options.root;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#secret = Buffer.from(options.secret);
    if (this.#secret.length === 0) throw new Error('LocalBlobs needs a non-empty secret');
    this.#clock = options.clock ?? systemClock;
  }

  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<void> {
    assertValidBlobKey(key);
    const tmp = await this.#writeTemp(typeof body === 'string' || body instanceof Uint8Array ? [body] : body);
    await this.#commit(tmp.path, { key, ...options });
  }

  async get(key: string): Promise<Readable | null> {
    assertValidBlobKey(key);
    const opened = await this.#open(key);
    return opened ? opened.body : null;
  }

  async head(key: string): Promise<BlobHead | null> {
    assertValidBlobKey(key);
    const { data, meta } = this.#paths(key);
    try {
      const { size } = await stat(data);
      const { contentType } = await readSidecar(meta, key);
      return { size, ...(contentType ? { contentType } : {}) };
    } catch (err) {
      if (isEnoent(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidBlobKey(key);
    const { data, meta } = this.#paths(key);
    // The bytes first: once they are gone the blob is gone.
    await rm(data, { force: true });
    await rm(meta, { force: true });
  }

  async signedGetUrl(key: string, options: SignedUrlOptions): Promise<string> {
    return this.#signedUrl('GET', key, options.expiresInSeconds, {
      disposition: options.downloadFilename === undefined ? undefined : attachmentDisposition(options.downloadFilename),
      type: options.contentType,
    });
  }

  async signedPutUrl(key: string, options: { expiresInSeconds: number; contentType?: string }): Promise<string> {
    return this.#signedUrl('PUT', key, options.expiresInSeconds, { type: options.contentType });
  }

  async createMultipartUpload(key: string, options: PutOptions = {}): Promise<{ uploadId: string }> {
    assertValidBlobKey(key);
    const uploadId = randomBytes(16).toString('base64url');
    const dir = this.#uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    const meta: Metadata = { key, ...options };
    await writeFile(join(dir, 'upload.json'), JSON.stringify(meta), { mode: 0o600 });
    return { uploadId };
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    const dir = await this.#openUpload(key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw blobError('InvalidArgument', `Part number must be an integer from 1 to ${MAX_PART_NUMBER}`);
    }
    const tmp = await this.#writeTemp([body]);
    await rename(tmp.path, join(dir, `${partNumber}.part`)); // re-uploading a part replaces it, as on S3
    return { partNumber, etag: quoteEtag(tmp.md5) };
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const dir = await this.#openUpload(key, uploadId);
    const upload = await readMeta(join(dir, 'upload.json'));
    // Callers may list parts in the order they finished; the object is assembled in part order.
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    if (sorted.length === 0) throw blobError('MalformedXML', 'A multipart upload needs at least one part');
    const files: string[] = [];
    for (const [i, part] of sorted.entries()) {
      if (sorted[i + 1]?.partNumber === part.partNumber) {
        throw blobError('InvalidPartOrder', `Part ${part.partNumber} is listed twice`);
      }
      const file = join(dir, `${part.partNumber}.part`);
      const size = await stat(file).then(
        (s) => s.size,
        (err: unknown) => {
          if (isEnoent(err)) throw blobError('InvalidPart', `Part ${part.partNumber} was not uploaded`);
          throw err;
        },
      );
      if (i < sorted.length - 1 && size < MIN_PART_SIZE) {
        throw blobError('EntityTooSmall', `Part ${part.partNumber} is ${size} bytes; all but the last part must be at least 5 MiB`);
      }
      files.push(file);
    }

    // Concatenate, checking each part's ETag on the way; a mismatch discards the temp file.
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const [i, part] of sorted.entries()) {
        const md5 = createHash('md5');
        for await (const chunk of createReadStream(files[i]!)) {
          md5.update(chunk as Buffer);
          yield chunk as Buffer;
        }
        if (quoteEtag(md5.digest('hex')) !== quoteEtag(part.etag)) {
          throw blobError('InvalidPart', `The ETag given for part ${part.partNumber} does not match the uploaded part`);
        }
      }
    }
    const tmp = await this.#writeTemp(concatenated());
    await this.#commit(tmp.path, { ...upload, key });
    await rm(dir, { recursive: true, force: true });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      const dir = await this.#openUpload(key, uploadId);
      await rm(dir, { recursive: true, force: true });
    } catch (err) {
      // Aborting twice (e.g. a retried worker) is not an error.
      if ((err as Error).name !== 'NoSuchUpload') throw err;
    }
  }

  /**
   * Serves a request under /_local/blobs/ made with a URL from signedGetUrl or
   * signedPutUrl. Bad, tampered or expired requests get a JSON error body like the API's;
   * only I/O failures (such as the PUT body stream breaking) throw.
   */
  async handleSignedRequest(req: SignedRequest): Promise<SignedResponse> {
    const url = new URL(req.url, 'http://local');
    if (!url.pathname.startsWith(LOCAL_BLOBS_PATH)) return errorResponse(404, 'Not found');
    let key: string;
    try {
      key = decodeURIComponent(url.pathname.slice(LOCAL_BLOBS_PATH.length));
      assertValidBlobKey(key);
    } catch {
      return errorResponse(400, 'Invalid blob key');
    }

    const q = url.searchParams;
    const method = q.get('method');
    const expires = q.get('expires');
    const sig = q.get('sig');
    const extras = { disposition: q.get('disposition') ?? undefined, type: q.get('type') ?? undefined };
    if ((method !== 'GET' && method !== 'PUT') || !expires || !/^\d{1,12}$/.test(expires) || !sig) {
      return errorResponse(403, 'The URL is not signed');
    }
    const expected = this.#signature(method, key, expires, extras);
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return errorResponse(403, 'The URL signature does not match');
    }
    if (req.method.toUpperCase() !== method) return errorResponse(403, `The URL is signed for ${method} only`);
    if (this.#nowSeconds() > Number(expires)) return errorResponse(403, 'The URL has expired');

    if (method === 'GET') {
      const opened = await this.#open(key);
      if (!opened) return errorResponse(404, 'No such blob');
      const contentDisposition = extras.disposition ?? opened.meta.contentDisposition;
      return {
        status: 200,
        headers: {
          'Content-Type': extras.type ?? opened.meta.contentType ?? 'application/octet-stream',
          'Content-Length': String(opened.size),
          ...(contentDisposition ? { 'Content-Disposition': contentDisposition } : {}),
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        },
        body: opened.body,
      };
    }

    if (!req.body) return errorResponse(400, 'A PUT needs a body');
    if (req.headers && extras.type !== undefined && header(req.headers, 'content-type') !== extras.type) {
      // S3 signs the Content-Type too; a mismatch fails there, so it fails here.
      return errorResponse(403, 'The Content-Type does not match the signed one');
    }
    const tmp = await this.#writeTemp(req.body);
    await this.#commit(tmp.path, { key, ...(extras.type ? { contentType: extras.type } : {}) });
    return { status: 200, headers: { ETag: quoteEtag(tmp.md5) } };
  }

  #signedUrl(method: 'GET' | 'PUT', key: string, expiresInSeconds: number, extras: SignedExtras): string {
    assertValidBlobKey(key);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_EXPIRES_SECONDS) {
      throw new Error(`expiresInSeconds must be an integer from 1 to ${MAX_EXPIRES_SECONDS}`);
    }
    const expires = String(this.#nowSeconds() + expiresInSeconds);
    const query = new URLSearchParams({ expires, method });
    if (extras.disposition !== undefined) query.set('disposition', extras.disposition);
    if (extras.type !== undefined) query.set('type', extras.type);
    query.set('sig', this.#signature(method, key, expires, extras).toString());
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${this.#baseUrl}${LOCAL_BLOBS_PATH}${path}?${query}`;
  }

  /** base64url HMAC-SHA256 over the signed fields; JSON keeps the encoding unambiguous. */
  #signature(method: string, key: string, expires: string, extras: SignedExtras): Buffer {
    const payload = JSON.stringify([method, key, expires, extras.disposition ?? null, extras.type ?? null]);
    return Buffer.from(createHmac('sha256', this.#secret).update(payload).digest('base64url'));
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock.now().getTime() / 1000);
  }

  #paths(key: string): { dir: string; data: string; meta: string } {
    const hash = createHash('sha256').update(key).digest('hex');
    const dir = join(this.#root, 'objects', hash.slice(0, 2));
    return { dir, data: join(dir, hash), meta: join(dir, `${hash}.json`) };
  }

  #uploadDir(uploadId: string): string {
    return join(this.#root, 'uploads', uploadId);
  }

  /** The staging dir of an upload in progress for key; NoSuchUpload otherwise. */
  async #openUpload(key: string, uploadId: string): Promise<string> {
    assertValidBlobKey(key);
    if (!UPLOAD_ID.test(uploadId)) throw blobError('NoSuchUpload', 'No such multipart upload');
    const dir = this.#uploadDir(uploadId);
    try {
      const upload = await readMeta(join(dir, 'upload.json'));
      if (upload.key !== key) throw blobError('NoSuchUpload', 'No such multipart upload for this key');
    } catch (err) {
      if (isEnoent(err)) throw blobError('NoSuchUpload', 'No such multipart upload');
      throw err;
    }
    return dir;
  }

  /**
   * Opens a blob for reading. The size and stream come from the same open file, so a
   * concurrent overwrite (a rename) cannot make them disagree.
   */
  async #open(key: string): Promise<{ body: Readable; size: number; meta: Metadata } | null> {
    const { data, meta } = this.#paths(key);
    let handle;
    try {
      handle = await open(data, 'r');
    } catch (err) {
      if (isEnoent(err)) return null;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      const metadata = await readSidecar(meta, key);
      return { body: handle.createReadStream(), size, meta: metadata };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Writes chunks to a new file in tmp/ and fsyncs it; removes it on any error. */
  async #writeTemp(chunks: AsyncIterable<unknown> | Iterable<unknown>): Promise<{ path: string; md5: string }> {
    const dir = join(this.#root, 'tmp');
    await mkdir(dir, { recursive: true });
    const path = join(dir, randomBytes(12).toString('base64url'));
    const handle = await open(path, 'wx', 0o600);
    const md5 = createHash('md5');
    try {
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        md5.update(bytes);
        for (let offset = 0; offset < bytes.length; ) {
          offset += (await handle.write(bytes, offset)).bytesWritten;
        }
      }
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(path, { force: true });
      throw err;
    }
    await handle.close();
    return { path, md5: md5.digest('hex') };
  }

  /** Moves a finished temp file into place as key's bytes, sidecar first. */
  async #commit(tmpPath: string, metadata: Metadata): Promise<void> {
    try {
      const { dir, data, meta } = this.#paths(metadata.key);
      await mkdir(dir, { recursive: true });
      const metaTmp = `${tmpPath}.json`;
      await writeFile(metaTmp, JSON.stringify(metadata), { mode: 0o600 });
      await rename(metaTmp, meta);
      await rename(tmpPath, data);
    } catch (err) {
      await rm(tmpPath, { force: true });
      await rm(`${tmpPath}.json`, { force: true });
      throw err;
    }
  }
}

interface SignedExtras {
  disposition?: string | undefined;
  type?: string | undefined;
}

async function readMeta(path: string): Promise<Metadata> {
  return JSON.parse(await readFile(path, 'utf8')) as Metadata;
}

/** A blob's sidecar; a blob whose sidecar is missing (see the file comment) has no metadata. */
async function readSidecar(path: string, key: string): Promise<Metadata> {
  try {
    return await readMeta(path);
  } catch (err) {
    if (isEnoent(err)) return { key };
    throw err;
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const entry = Object.entries(headers).find(([k]) => k.toLowerCase() === name);
  const value = entry?.[1];
  return Array.isArray(value) ? value[0] : value;
}

function errorResponse(status: number, message: string): SignedResponse {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: JSON.stringify({ errors: [{ message }] }),
  };
}
