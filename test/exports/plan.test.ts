import { describe, expect, test } from '@jest/globals';
import { READ_AHEAD_PAGES, renderPlan, renderPlanToString, type ExportPage, type ExportPlan, type ExportPosition } from '../../lambdas/domain/exports/plan.js';

/**
 * A plan of sections of numbered items (3 per page) whose page() calls are logged and
 * settle on a later macrotask, to see what renderPlan asks for and when.
 */
function slowPlan(sizes: number[], options: { failAt?: string; hints?: boolean; shortAt?: string } = {}) {
  const calls: string[] = [];
  let reading = 0;
  const inFlight = () => reading;
  const plan: ExportPlan = {
    contentType: 'text/plain',
    filename: 'x.txt',
    gzip: false,
    prologue: '<',
    epilogue: '>',
    sections: sizes.map((size, index) => ({
      name: `s${index}`,
      open: `[${index}:`,
      close: ']',
      separator: ',',
      page(after: string | null, early?: (next: string | null) => void): Promise<ExportPage> {
        const key = `s${index}@${after ?? 'start'}`;
        calls.push(key);
        const from = after === null ? 0 : Number(after);
        const hinted = Math.min(size, from + 3);
        // `shortAt`: this page ends one item before its hint (as a page over the rendered budget does).
        const to = key === options.shortAt ? hinted - 1 : hinted;
        const items = Array.from({ length: to - from }, (_, i) => String(from + i));
        reading += 1;
        // The rows arrive on a later macrotask (the hint), the page on another one, as database calls would.
        return new Promise((resolve, reject) => {
          setTimeout(() => {
            if (options.hints) early?.(hinted < size ? String(hinted) : null);
            setTimeout(() => {
              reading -= 1;
              if (key === options.failAt) reject(new Error(`page ${key} failed`));
              else resolve({ items, next: to < size ? String(to) : null });
            }, 0);
          }, 0);
        });
      },
    })),
  };
  return { plan, calls, inFlight };
}

describe('renderPlan reads pages ahead', () => {
  test('the document is the same as reading page by page, and each page is asked for once', async () => {
    const { plan, calls } = slowPlan([7, 0, 4]);
    expect(await renderPlanToString(plan)).toBe('<[0:0,1,2,3,4,5,6][1:][2:0,1,2,3]>');
    expect(calls).toEqual(['s0@start', 's0@3', 's0@6', 's1@start', 's2@start', 's2@3']);
  });

  test('the next page (or the next section) is requested before the current page is handed to the writer', async () => {
    const { plan, calls } = slowPlan([4, 2]);
    const seen: string[][] = [];
    for await (const piece of renderPlan(plan, undefined, 1)) if ('text' in piece) seen.push([piece.text, ...calls]);
    // When the first page's text arrives, the second page is already asked for; when the
    // last page of s0 arrives, s1's first page is.
    expect(seen.find(([text]) => text === '[0:')).toEqual(['[0:']);
    expect(seen.find(([text]) => text === '0,1,2')).toEqual(['0,1,2', 's0@start', 's0@3']);
    expect(seen.find(([text]) => text === ',3]')).toEqual([',3]', 's0@start', 's0@3', 's1@start']);
  });

  test('a caller that stops at a checkpoint leaves no read in flight, and a failed read-ahead it never used is not an error', async () => {
    const { plan, calls, inFlight } = slowPlan([9], { failAt: 's0@6' });
    let position: ExportPosition | undefined;
    for await (const piece of renderPlan(plan)) {
      if ('checkpoint' in piece && piece.checkpoint.after === '6') {
        position = piece.checkpoint;
        break; // the read of s0@6 (which fails) was started ahead
      }
    }
    expect(calls).toContain('s0@6');
    expect(inFlight()).toBe(0);
    expect(position).toMatchObject({ section: 0, after: '6', written: 6 });
  });

  test(`a slow writer has up to READ_AHEAD_PAGES (${READ_AHEAD_PAGES}) pages read ahead, never more`, async () => {
    const { plan, calls } = slowPlan([30]); // 10 pages of 3 items
    let consumed = 0;
    const ahead: number[] = [];
    for await (const piece of renderPlan(plan)) {
      if (!('checkpoint' in piece)) continue;
      consumed += 1;
      await new Promise((resolve) => setTimeout(resolve, 5)); // compressing and uploading: the reads go on meanwhile
      ahead.push(calls.length - consumed);
    }
    expect(Math.max(...ahead)).toBe(READ_AHEAD_PAGES);
    expect(calls).toHaveLength(10);
  });

  test('with hints, the next page is asked for before the current one arrives', async () => {
    const { plan, calls, inFlight } = slowPlan([9, 2], { hints: true });
    let most = 0;
    const parts: string[] = [];
    for await (const piece of renderPlan(plan)) {
      most = Math.max(most, inFlight());
      if ('text' in piece) parts.push(piece.text);
    }
    expect(parts.join('')).toBe('<[0:0,1,2,3,4,5,6,7,8][1:0,1]>');
    expect(calls).toEqual(['s0@start', 's0@3', 's0@6', 's1@start']);
    // Pages overlap: a read starts while the one before it is still in flight.
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(READ_AHEAD_PAGES);
  });

  test('a page that ends before its hint: what was read from the hint is dropped, the document is the same', async () => {
    const { plan, calls, inFlight } = slowPlan([9], { hints: true, shortAt: 's0@3' });
    expect(await renderPlanToString(plan)).toBe('<[0:0,1,2,3,4,5,6,7,8]>');
    // s0@3 ended at 5, not at its hint 6: s0@6 (read ahead) is not used, s0@5 is read.
    expect(calls).toContain('s0@6');
    expect(calls.slice(calls.indexOf('s0@5'))).toEqual(['s0@5', 's0@8']);
    expect(inFlight()).toBe(0);
  });

  test('a failed page that is needed fails the rendering', async () => {
    const { plan } = slowPlan([9], { failAt: 's0@6' });
    await expect(renderPlanToString(plan)).rejects.toThrow('page s0@6 failed');
  });

  test('resuming from a checkpoint reads from that cursor, not from a page read ahead before', async () => {
    const { plan, calls } = slowPlan([7]);
    let rest = '';
    for await (const piece of renderPlan(plan, { section: 0, after: '3', written: 3, counts: { s0: 3 } })) if ('text' in piece) rest += piece.text;
    expect(rest).toBe(',3,4,5,6]>');
    expect(calls).toEqual(['s0@3', 's0@6']);
  });
});
