/**
 * Delivering a synchronous export of any size.
 *
 * An export is generated as a stream of text chunks (pages of tasks rendered one at a
 * time; see project-export.ts and list-exports.ts). Lambda answers at most 6 MB
 * synchronously, so the chunks are buffered up to a threshold (INLINE_LIMIT_BYTES,
 * measured as the body would weigh inside the Lambda response, JSON escaping included):
 *
 * - the document ends before the threshold: it is answered inline (200);
 * - otherwise the buffered head and the rest of the stream are piped into the blob store
 *   under exports/adhoc/<organization gid>/<random>.<ext> and the answer is a redirect to
 *   a freshly signed download valid for 5 minutes. The same permalink therefore works for
 *   any size, and access is checked on every request before anything is generated.
 *
 * Memory stays bounded by the threshold plus one chunk: the buffered head is released as
 * it is uploaded, and the rest is pulled from the generator only as fast as the upload
 * consumes it. The optional onProgress hook reports what is held (tests assert on it).
 *
 * Objects under exports/adhoc/ are throwaway copies: the bucket's lifecycle rule should
 * expire them after a day.
 */
import { Readable } from 'node:stream';
import type { AppDeps } from '../deps.js';

/** The most a document may weigh to be answered inline (Lambda's limit is 6 MB for the whole response). */
export const INLINE_LIMIT_BYTES = 4 * 1024 * 1024;
/** How long a redirect's signed download URL lives. */
export const DOWNLOAD_URL_SECONDS = 300;
/** Generated text is handed on in chunks of about this size. */
export const CHUNK_BYTES = 64 * 1024;

export type ExportFormat = 'json' | 'csv';

/** A generated export, not yet delivered. `chunks` is consumed once. */
export interface ExportDocument {
  format: ExportFormat;
  contentType: string;
  /** A safe file name (see exportFilename). */
  filename: string;
  /** JSON opens in the browser tab; CSV downloads. */
  disposition: 'inline' | 'attachment';
  organizationGid: string;
  chunks: AsyncIterable<string>;
}

export interface DeliveryProgress {
  phase: 'buffering' | 'uploading';
  /** Text chunks produced so far. */
  chunks: number;
  /** UTF-8 bytes of the document produced so far. */
  totalBytes: number;
  /** Bytes of text the delivery holds right now (the buffered head, or the chunk in flight). */
  heldBytes: number;
  /** The most it has held at any time. */
  maxHeldBytes: number;
}

export interface DeliveryOptions {
  /** Inline answers up to this many bytes (as encoded in the Lambda response); default INLINE_LIMIT_BYTES. */
  inlineLimitBytes?: number;
  /** Called after every chunk (for tests and metrics). */
  onProgress?: (progress: DeliveryProgress) => void;
}

export type Delivered =
  | { kind: 'inline'; body: string; headers: Record<string, string>; bytes: number }
  | { kind: 'redirect'; location: string; key: string; bytes: number };

/** Bytes a chunk adds to the body of a Lambda proxy response (a JSON string: quotes, backslashes and control characters are escaped). */
export function inlineCost(chunk: string): number {
  return Buffer.byteLength(JSON.stringify(chunk), 'utf8') - 2;
}

export async function deliverExport(deps: Pick<AppDeps, 'blobs' | 'ids'>, doc: ExportDocument, options: DeliveryOptions = {}): Promise<Delivered> {
  const limit = options.inlineLimitBytes ?? INLINE_LIMIT_BYTES;
  const iterator = doc.chunks[Symbol.asyncIterator]();
  const progress: DeliveryProgress = { phase: 'buffering', chunks: 0, totalBytes: 0, heldBytes: 0, maxHeldBytes: 0 };
  const report = () => {
    progress.maxHeldBytes = Math.max(progress.maxHeldBytes, progress.heldBytes);
    options.onProgress?.({ ...progress });
  };
  // The head is held as UTF-8 bytes: half the memory of JavaScript's two-byte strings for non-Latin-1 text.
  const head: Buffer[] = [];
  let headCost = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      const body = Buffer.concat(head).toString('utf8');
      return { kind: 'inline', body, headers: downloadHeaders(doc), bytes: progress.totalBytes };
    }
    const bytes = Buffer.from(next.value, 'utf8');
    head.push(bytes);
    headCost += inlineCost(next.value);
    progress.chunks += 1;
    progress.totalBytes += bytes.length;
    progress.heldBytes += bytes.length;
    report();
    if (headCost > limit) break;
  }

  // Too large to answer inline: upload the head and the rest as one stream.
  progress.phase = 'uploading';
  async function* body(): AsyncGenerator<Buffer> {
    while (head.length) {
      const bytes = head.shift()!;
      progress.heldBytes -= bytes.length;
      yield bytes;
    }
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const bytes = Buffer.from(next.value, 'utf8');
      progress.chunks += 1;
      progress.totalBytes += bytes.length;
      progress.heldBytes = bytes.length;
      report();
      yield bytes;
    }
  }
  const key = `exports/adhoc/${doc.organizationGid}/${deps.ids.token()}.${doc.format}`;
  try {
    await deps.blobs.put(key, Readable.from(body(), { objectMode: false }), { contentType: doc.contentType, contentDisposition: contentDisposition(doc.disposition, doc.filename) });
  } finally {
    await iterator.return?.();
  }
  const location = await deps.blobs.signedGetUrl(key, {
    expiresInSeconds: DOWNLOAD_URL_SECONDS,
    contentType: doc.contentType,
    ...(doc.disposition === 'attachment' ? { downloadFilename: doc.filename } : {}),
  });
  return { kind: 'redirect', location, key, bytes: progress.totalBytes };
}

export function downloadHeaders(doc: Pick<ExportDocument, 'contentType' | 'disposition' | 'filename'>): Record<string, string> {
  return { 'Content-Type': doc.contentType, 'Content-Disposition': contentDisposition(doc.disposition, doc.filename), 'Cache-Control': 'no-store' };
}

// --- File names ----------------------------------------------------------------------

const MAX_NAME_CHARACTERS = 100;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * A file name from an object's name: Unicode kept (NFC), but no control or formatting
 * characters (which would also let a right-to-left override disguise the extension), no
 * path separators, quotes or other characters file systems refuse, no leading or
 * trailing dots or spaces, at most 100 characters, never empty or a reserved device
 * name; then the extension.
 */
export function exportFilename(name: string, extension: ExportFormat): string {
  let base = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/[/\\:*?"<>|]/g, '_')
    .replace(/\s+/gu, ' ')
    .replace(/^[\s.]+|[\s.]+$/gu, '');
  base = Array.from(base).slice(0, MAX_NAME_CHARACTERS).join('').replace(/[\s.]+$/u, '');
  if (!base) base = 'export';
  if (WINDOWS_RESERVED.test(base)) base = `_${base}`;
  return `${base}.${extension}`;
}

/**
 * Content-Disposition (RFC 6266) with an ASCII fallback `filename` and the exact name in
 * `filename*` (RFC 5987/8187, UTF-8, percent-encoded attr-chars only).
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

// --- Chunking --------------------------------------------------------------------------

/** Joins small pieces of text into chunks of about `size` UTF-16 units (pieces are never split). */
export async function* coalesce(pieces: AsyncIterable<string>, size = CHUNK_BYTES): AsyncGenerator<string> {
  let parts: string[] = [];
  let length = 0;
  for await (const piece of pieces) {
    if (!piece) continue;
    parts.push(piece);
    length += piece.length;
    if (length >= size) {
      yield parts.join('');
      parts = [];
      length = 0;
    }
  }
  if (parts.length) yield parts.join('');
}
