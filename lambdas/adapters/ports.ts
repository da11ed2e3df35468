/**
 * Ports: the interfaces the domain and HTTP layers depend on. Each has an AWS
 * implementation and a local one (see ../shared/DESIGN.md, "Ports"); one contract
 * test suite per port runs against both.
 */
import type { Readable } from 'node:stream';
import type { SQSBatchResponse, SQSEvent, Context } from 'aws-lambda';

/** Wall clock; tests inject a controllable one. */
export interface Clock {
  now(): Date;
}

/** Identifier and secret generation; tests inject deterministic ones. */
export interface Ids {
  /** A new object gid: a decimal string, as Asana's gids are. */
  gid(): string;
  /** A new opaque 256-bit random token, base64url. */
  token(): string;
}

export interface PutOptions {
  contentType?: string;
  contentDisposition?: string;
}

export interface SignedUrlOptions {
  expiresInSeconds: number;
  /** Sets Content-Disposition: attachment; filename=... on the download. */
  downloadFilename?: string;
  contentType?: string;
}

export interface BlobHead {
  size: number;
  contentType?: string;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

/**
 * Blob storage (S3 / files). Keys are relative paths such as "exports/123/org.json.gz".
 * Multipart uploads can be resumed across invocations: the caller keeps the uploadId
 * and the parts it has uploaded (export workers checkpoint them).
 */
export interface BlobStore {
  /** Streams body into the store (multipart for large bodies). */
  put(key: string, body: Readable | Uint8Array | string, options?: PutOptions): Promise<void>;
  /** The blob's bytes as a stream, or null when there is no such blob. */
  get(key: string): Promise<Readable | null>;
  head(key: string): Promise<BlobHead | null>;
  /** Deleting a missing blob is not an error. */
  delete(key: string): Promise<void>;
  /** A short-lived URL that downloads the blob without other credentials. */
  signedGetUrl(key: string, options: SignedUrlOptions): Promise<string>;
  /** A short-lived URL that accepts one PUT of the blob's bytes. */
  signedPutUrl(key: string, options: { expiresInSeconds: number; contentType?: string }): Promise<string>;
  createMultipartUpload(key: string, options?: PutOptions): Promise<{ uploadId: string }>;
  /** Every part but the last must be at least 5 MiB (S3's rule, enforced locally too). */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart>;
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

export type QueueName = 'exports' | 'mail';

export interface SendOptions {
  delaySeconds?: number;
}

/** Message queues (SQS / in-process with SQS semantics). Bodies are JSON. */
export interface Queue {
  send(queue: QueueName, body: unknown, options?: SendOptions): Promise<{ messageId: string }>;
}

/** A worker handler as deployed: an SQS event source with partial batch responses. */
export type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
  /** Extra headers, e.g. a message id for idempotency or List-Unsubscribe. */
  headers?: Record<string, string>;
}

/** Outgoing mail (SES v2 / .eml files). */
export interface Mailer {
  send(message: MailMessage): Promise<{ messageId: string }>;
}

/** Keys the application derives from its secret material (Secrets Manager / local file). */
export interface AppSecrets {
  /** Keys HMACs of IP addresses and throttle keys (login detection stores no raw IP). */
  hmacKey: Buffer;
  /** Encrypts secrets stored in the database (SSO client secrets), AES-256-GCM. */
  encryptionKey: Buffer;
}

export interface SecretsProvider {
  /** Loaded once and cached for the life of the process. */
  get(): Promise<AppSecrets>;
}
