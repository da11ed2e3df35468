/**
 * Delivery of a generated export: inline below the threshold (measured as the body
 * weighs inside the Lambda response), otherwise streamed into the blob store and
 * answered with a short-lived signed download; memory held stays bounded by the
 * threshold plus a chunk; failures do not leave an answer. File names and
 * Content-Disposition.
 */
import { Readable } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import type { BlobStore, PutOptions, SignedUrlOptions } from '../../lambdas/adapters/ports.js';
import { contentDisposition, deliverExport, DOWNLOAD_URL_SECONDS, exportFilename, inlineCost, INLINE_LIMIT_BYTES, type DeliveryProgress, type ExportDocument } from '../../lambdas/domain/exports/delivery.js';
import { unusedBlobs } from '../support/http.js';

/** Records puts (consuming the stream chunk by chunk) and signed URL requests. */
class MemoryBlobs {
  readonly puts: { key: string; body: Buffer; options: PutOptions | undefined; chunks: number }[] = [];
  readonly signed: { key: string; options: SignedUrlOptions }[] = [];
  failAfterBytes: number | undefined;
  readonly store: BlobStore = {
    ...unusedBlobs,
    put: async (key, body, options) => {
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of body as Readable) {
        parts.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (this.failAfterBytes !== undefined && size > this.failAfterBytes) throw new Error('storage unavailable');
      }
      this.puts.push({ key, body: Buffer.concat(parts), options, chunks: parts.length });
    },
    signedGetUrl: async (key, options) => {
      this.signed.push({ key, options });
      return `https://bucket.example/${key}?X-Amz-Expires=${options.expiresInSeconds}`;
    },
  };
}

const ids = { gid: () => '1', token: () => 'random-token' };

function doc(chunks: Iterable<string> | AsyncIterable<string>, format: 'json' | 'csv' = 'csv'): ExportDocument {
  return {
    format,
    contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
    filename: `Plan.${format}`,
    disposition: format === 'csv' ? 'attachment' : 'inline',
    organizationGid: '42',
    chunks: (async function* () {
      yield* chunks;
    })(),
  };
}

describe('deliverExport', () => {
  test('a document below the threshold is answered inline, with its headers', async () => {
    const blobs = new MemoryBlobs();
    const delivered = await deliverExport({ blobs: blobs.store, ids }, doc(['a,b\r\n', '1,2\r\n']));
    expect(delivered).toEqual({
      kind: 'inline',
      body: 'a,b\r\n1,2\r\n',
      bytes: 10,
      headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="Plan.csv"; filename*=UTF-8''Plan.csv`, 'Cache-Control': 'no-store' },
    });
    expect(blobs.puts).toEqual([]);
  });

  test('a larger one is streamed into exports/adhoc/<org>/ and answered with a 5-minute signed download', async () => {
    const blobs = new MemoryBlobs();
    const chunks = Array.from({ length: 50 }, (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(996)}`);
    const delivered = await deliverExport({ blobs: blobs.store, ids }, doc(chunks), { inlineLimitBytes: 10_000 });
    expect(delivered).toEqual({ kind: 'redirect', key: 'exports/adhoc/42/random-token.csv', location: 'https://bucket.example/exports/adhoc/42/random-token.csv?X-Amz-Expires=300', bytes: 50_000 });
    expect(blobs.puts).toHaveLength(1);
    expect(blobs.puts[0]!.body.toString('utf8')).toBe(chunks.join(''));
    expect(blobs.puts[0]!.options).toEqual({ contentType: 'text/csv; charset=utf-8', contentDisposition: `attachment; filename="Plan.csv"; filename*=UTF-8''Plan.csv` });
    expect(blobs.signed).toEqual([{ key: 'exports/adhoc/42/random-token.csv', options: { expiresInSeconds: DOWNLOAD_URL_SECONDS, contentType: 'text/csv; charset=utf-8', downloadFilename: 'Plan.csv' } }]);
    expect(DOWNLOAD_URL_SECONDS).toBe(300);
  });

  test('JSON redirects keep the inline disposition (no forced download)', async () => {
    const blobs = new MemoryBlobs();
    await deliverExport({ blobs: blobs.store, ids }, doc(['{"a":"', 'y'.repeat(2000), '"}'], 'json'), { inlineLimitBytes: 1000 });
    expect(blobs.puts[0]!.options?.contentDisposition).toBe(`inline; filename="Plan.json"; filename*=UTF-8''Plan.json`);
    expect(blobs.signed[0]!.options).toEqual({ expiresInSeconds: 300, contentType: 'application/json; charset=utf-8' });
  });

  test('the threshold counts the body as the Lambda response encodes it (escapes included)', async () => {
    expect(inlineCost('abc')).toBe(3);
    expect(inlineCost('a"b\\c\n')).toBe(9);
    expect(inlineCost('\u0001')).toBe(6);
    expect(inlineCost('é🎉')).toBe(6);
    // 600 bytes of control characters weigh 3600 bytes in the response: not inline under 1000.
    const blobs = new MemoryBlobs();
    const delivered = await deliverExport({ blobs: blobs.store, ids }, doc(['\u0001'.repeat(600)]), { inlineLimitBytes: 1000 });
    expect(delivered.kind).toBe('redirect');
    expect(INLINE_LIMIT_BYTES).toBeLessThanOrEqual(6 * 1024 * 1024 - 512 * 1024);
  });

  test('what it holds stays bounded by the threshold plus one chunk, however long the document', async () => {
    const blobs = new MemoryBlobs();
    const seen: DeliveryProgress[] = [];
    const chunk = 'z'.repeat(8 * 1024);
    let produced = 0;
    async function* endless() {
      for (let i = 0; i < 2000; i++) {
        produced++;
        yield chunk;
      }
    }
    const delivered = await deliverExport({ blobs: blobs.store, ids }, { ...doc([]), chunks: endless() }, { inlineLimitBytes: 64 * 1024, onProgress: (p) => seen.push(p) });
    expect(delivered).toMatchObject({ kind: 'redirect', bytes: 2000 * 8 * 1024 });
    expect(produced).toBe(2000);
    const max = Math.max(...seen.map((p) => p.heldBytes));
    expect(max).toBeLessThanOrEqual(64 * 1024 + chunk.length);
    expect(seen.at(-1)!.maxHeldBytes).toBe(max);
    expect(seen.filter((p) => p.phase === 'uploading').every((p) => p.heldBytes <= chunk.length)).toBe(true);
    expect(blobs.puts[0]!.body.length).toBe(2000 * 8 * 1024);
  });

  test('a failure while generating or storing fails the request (no partial answer)', async () => {
    async function* broken() {
      yield 'x'.repeat(5000);
      throw new Error('database went away');
    }
    const blobs = new MemoryBlobs();
    await expect(deliverExport({ blobs: blobs.store, ids }, { ...doc([]), chunks: broken() }, { inlineLimitBytes: 1000 })).rejects.toThrow('database went away');
    await expect(deliverExport({ blobs: blobs.store, ids }, { ...doc([]), chunks: broken() })).rejects.toThrow('database went away');
    blobs.failAfterBytes = 3000;
    let closed = false;
    async function* long() {
      try {
        for (let i = 0; i < 100; i++) yield 'y'.repeat(1000);
      } finally {
        closed = true;
      }
    }
    await expect(deliverExport({ blobs: blobs.store, ids }, { ...doc([]), chunks: long() }, { inlineLimitBytes: 1000 })).rejects.toThrow('storage unavailable');
    expect(closed).toBe(true);
    expect(blobs.puts).toEqual([]);
    expect(blobs.signed).toEqual([]);
  });
});

describe('file names and Content-Disposition', () => {
  test.each([
    ['Plan', 'csv', 'Plan.csv'],
    ['  spaced   out  ', 'csv', 'spaced out.csv'],
    ['../../etc/passwd', 'json', '_.._etc_passwd.json'],
    ['a:b*c?d"e<f>g|h', 'csv', 'a_b_c_d_e_f_g_h.csv'],
    ['tab\there\u0000nul\u007fdel\u0085c1', 'csv', 'tabherenuldelc1.csv'],
    ['invoice\u202Efdp.exe', 'csv', 'invoicefdp.exe.csv'],
    ['zero\u200Bwidth\uFEFF', 'csv', 'zerowidth.csv'],
    ['CON', 'csv', '_CON.csv'],
    ['lpt1', 'json', '_lpt1.json'],
    ['', 'csv', 'export.csv'],
    ['\u0001\u0002', 'json', 'export.json'],
    ['Cafe\u0301', 'csv', 'Café.csv'],
  ] as const)('%j -> %j', (name, ext, expected) => {
    expect(exportFilename(name, ext)).toBe(expected);
  });

  test('names are cut at 100 characters without splitting a character', () => {
    const long = exportFilename('🎉'.repeat(150), 'csv');
    expect(Array.from(long)).toHaveLength(104);
    expect(long).toBe(`${'🎉'.repeat(100)}.csv`);
    expect(exportFilename(`${'a'.repeat(99)} .b`, 'csv')).toBe(`${'a'.repeat(99)}.csv`);
  });

  test('RFC 6266 with an ASCII fallback and the exact name in RFC 5987 encoding', () => {
    expect(contentDisposition('attachment', 'Été 100% (v2) *.csv')).toBe(`attachment; filename="_t_ 100_ (v2) *.csv"; filename*=UTF-8''%C3%89t%C3%A9%20100%25%20%28v2%29%20%2A.csv`);
    expect(contentDisposition('inline', 'a.json')).toBe(`inline; filename="a.json"; filename*=UTF-8''a.json`);
    // Whatever the name, the value is one header line of printable ASCII with one quoted string.
    for (const name of ['"quoted"\\', 'line\r\nInjected: yes', '日本語.csv']) {
      const value = contentDisposition('attachment', exportFilename(name, 'csv'));
      expect(value).toMatch(/^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+$/);
    }
  });
});
