/**
 * BlobStore on S3. Uploads stream through lib-storage (multipart above 5 MiB, bounded
 * memory), objects are encrypted with KMS, downloads go through presigned URLs.
 *
 * Also home of the two rules both blob stores share (key validation and the download
 * Content-Disposition header), so LocalBlobs behaves exactly like this one.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobHead, BlobStore, PutOptions, SignedUrlOptions, UploadedPart } from '../ports.js';

/** S3's limit on an object key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * Throws unless key is a plain relative path: non-empty, at most 1024 UTF-8 bytes, no
 * leading "/", no backslash, no control characters (NUL, CR, LF...), and no empty, "."
 * or ".." segment. Local files cannot escape their root, and the same keys are
 * accepted on S3 (where ".." would survive in the key but be normalised away by some
 * HTTP clients, breaking presigned URLs).
 */
export function assertValidBlobKey(key: string): void {
  const problem =
    typeof key !== 'string' || key.length === 0
      ? 'is empty'
      : Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES
        ? `is longer than ${MAX_KEY_BYTES} bytes`
        : /[\u0000-\u001f\u007f]/.test(key)
          ? 'contains a control character'
          : key.includes('\\')
            ? 'contains a backslash'
            : key.startsWith('/')
              ? 'is absolute'
              : key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
                ? 'has an empty, "." or ".." segment'
                : undefined;
  if (problem) throw new Error(`Invalid blob key ${JSON.stringify(key)}: ${problem}`);
}

/**
 * The Content-Disposition value that makes a browser download as filename:
 * `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<RFC 8187 encoding>`.
 * Control characters and path separators are dropped or replaced, so a filename can
 * neither inject a header nor pick a directory.
 */
export function attachmentDisposition(filename: string): string {
  const clean = filename.replace(/[\u0000-\u001f\u007f]/g, '').replace(/[/\\]/g, '_').trim() || 'download';
  // Quoted-string fallback for old clients: printable ASCII only, no quote or backslash.
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  // RFC 8187 attr-chars: encodeURIComponent leaves ' ( ) * unescaped, which are not attr-chars.
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Signs a command into a URL; @aws-sdk/s3-request-presigner's getSignedUrl by default. */
export type Presigner = (
  client: S3Client,
  command: GetObjectCommand | PutObjectCommand,
  options: { expiresIn: number },
) => Promise<string>;

export interface S3BlobsOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key, e.g. "blobs/". */
  keyPrefix?: string;
  /** A customer managed KMS key; without it S3 uses the bucket's default KMS key. */
  kmsKeyId?: string;
  /** Injectable for tests. */
  presign?: Presigner;
}

const UPLOAD_PART_SIZE = 8 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 4; // at most queueSize * partSize bytes are buffered

export class S3Blobs implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #kmsKeyId: string | undefined;
  readonly #presign: Presigner;

  constructor(options: S3BlobsOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.keyPrefix ?? '';
    this.#kmsKeyId = options.kmsKeyId;
    this.#presign = options.presign ?? getSignedUrl;
  }

  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      partSize: UPLOAD_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false, // abort the multipart upload on failure: no orphaned parts
      params: {
        ...this.#target(key),
        Body: body,
        ContentType: options.contentType,
        ContentDisposition: options.contentDisposition,
        ...this.#encryption(),
      },
    });
    await upload.done();
  }

  async get(key: string): Promise<Readable | null> {
    try {
      const out = await this.#client.send(new GetObjectCommand(this.#target(key)));
      // In Node the SDK's streaming body is an http.IncomingMessage, a Readable.
      if (!(out.Body instanceof Readable)) throw new Error('S3 GetObject returned no readable body');
      return out.Body;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async head(key: string): Promise<BlobHead | null> {
    try {
      const out = await this.#client.send(new HeadObjectCommand(this.#target(key)));
      return { size: out.ContentLength ?? 0, ...(out.ContentType ? { contentType: out.ContentType } : {}) };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a missing key too.
    await this.#client.send(new DeleteObjectCommand(this.#target(key)));
  }

  async signedGetUrl(key: string, options: SignedUrlOptions): Promise<string> {
    const command = new GetObjectCommand({
      ...this.#target(key),
      ResponseContentDisposition:
        options.downloadFilename === undefined ? undefined : attachmentDisposition(options.downloadFilename),
      ResponseContentType: options.contentType,
    });
    return this.#presign(this.#client, command, { expiresIn: options.expiresInSeconds });
  }

  async signedPutUrl(key: string, options: { expiresInSeconds: number; contentType?: string }): Promise<string> {
    // No SSE parameters here: they would become headers the uploader must send. The
    // bucket's default encryption (KMS) applies instead. A signed ContentType must be
    // sent as the Content-Type header of the PUT.
    const command = new PutObjectCommand({ ...this.#target(key), ContentType: options.contentType });
    return this.#presign(this.#client, command, { expiresIn: options.expiresInSeconds });
  }

  async createMultipartUpload(key: string, options: PutOptions = {}): Promise<{ uploadId: string }> {
    const out = await this.#client.send(
      new CreateMultipartUploadCommand({
        ...this.#target(key),
        ContentType: options.contentType,
        ContentDisposition: options.contentDisposition,
        ...this.#encryption(),
      }),
    );
    if (!out.UploadId) throw new Error('S3 CreateMultipartUpload returned no UploadId');
    return { uploadId: out.UploadId };
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    const out = await this.#client.send(
      new UploadPartCommand({ ...this.#target(key), UploadId: uploadId, PartNumber: partNumber, Body: body }),
    );
    if (!out.ETag) throw new Error('S3 UploadPart returned no ETag');
    return { partNumber, etag: out.ETag };
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    // S3 requires ascending part numbers; callers checkpoint parts in completion order.
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    await this.#client.send(
      new CompleteMultipartUploadCommand({
        ...this.#target(key),
        UploadId: uploadId,
        MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }),
    );
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.#client.send(new AbortMultipartUploadCommand({ ...this.#target(key), UploadId: uploadId }));
    } catch (err) {
      // Aborting twice (e.g. a retried worker) is not an error.
      if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
    }
  }

  #target(key: string): { Bucket: string; Key: string } {
    assertValidBlobKey(key);
    return { Bucket: this.#bucket, Key: this.#prefix + key };
  }

  #encryption() {
    return { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.#kmsKeyId };
  }
}

/** NoSuchKey from GetObject; NotFound from HeadObject (a HEAD response has no error body). */
function isMissing(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
