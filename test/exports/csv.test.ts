/**
 * The CSV module (the one place cells are written): RFC 4180 output, the byte order
 * mark, and CSV-injection neutralization that keeps every other character, checked
 * with a real CSV parser over hand-picked and generated text.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { couldStartFormula, csvDocumentStart, csvRecords, neutralizeCell, UTF8_BOM } from '../../lambdas/domain/exports/csv.js';

const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r', '\n', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20'];
const parseCsv = (text: string) => parse(text, { bom: true, relax_column_count: false }) as string[][];

describe('neutralizeCell', () => {
  test.each(FORMULA_STARTS.map((c) => [c]))('a cell starting with %j gets a leading single quote and keeps the rest', (c) => {
    expect(couldStartFormula(`${c}1+1`)).toBe(true);
    expect(neutralizeCell(`${c}cmd|' /C calc'!A0`)).toBe(`'${c}cmd|' /C calc'!A0`);
  });

  test.each([['plain'], [' =leading space'], ["'=already quoted"], ['a=b'], ['1-2'], ['日本語'], ['']])('%j is left as it is', (text) => {
    expect(couldStartFormula(text)).toBe(false);
    expect(neutralizeCell(text)).toBe(text);
  });

  test('absent values are empty cells', () => {
    expect(neutralizeCell(null)).toBe('');
    expect(neutralizeCell(undefined)).toBe('');
  });
});

describe('CSV text', () => {
  test('RFC 4180: CRLF after every record, fields quoted only when needed, quotes doubled', () => {
    expect(csvRecords([['a', 'b,c', 'say "hi"', 'two\nlines', '']])).toBe('a,"b,c","say ""hi""","two\nlines",\r\n');
    expect(csvRecords([])).toBe('');
  });

  test('a document starts with the UTF-8 byte order mark and the header', () => {
    const doc = csvDocumentStart(['Task ID', 'Name']) + csvRecords([['1', 'Ünïcödé 🎉']]);
    expect(doc.startsWith(`${UTF8_BOM}Task ID,Name\r\n`)).toBe(true);
    const bytes = Buffer.from(doc, 'utf8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(parseCsv(bytes.toString('utf8'))).toEqual([
      ['Task ID', 'Name'],
      ['1', 'Ünïcödé 🎉'],
    ]);
  });

  test('header cells are neutralized too', () => {
    expect(parseCsv(csvDocumentStart(['=Field'])))
      .toEqual([["'=Field"]]);
  });

  test('hand-picked injections round-trip with only the prefix added', () => {
    const cells = ['=HYPERLINK("http://x","y")', '+1', '-1', '@SUM(1)', '\t=1', '\r=1', '\n=1', '＝1', '＋1', '－1', '＠1', '=1,2', '="a""b"', 'a\r\nb', '"', ',', ''];
    const [row] = parseCsv(csvRecords([cells]));
    expect(row).toEqual(cells.map((c) => (couldStartFormula(c) ? `'${c}` : c)));
    for (const cell of row!) expect(couldStartFormula(cell)).toBe(false);
  });

  test('any text survives a round trip through csv-parse, apart from the prefix (property)', () => {
    const cell = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.tuple(fc.constantFrom(...FORMULA_STARTS, '"', ',', "'"), fc.string({ unit: 'grapheme', maxLength: 20 })).map(([a, b]) => a + b),
      fc.string({ unit: fc.constantFrom('=', '+', '-', '@', '"', ',', '\r', '\n', '\t', 'a', 'é', '🎉'), maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), (records) => {
        const width = Math.max(...records.map((r) => r.length));
        const rect = records.map((r) => [...r, ...Array<string>(width - r.length).fill('')]);
        const text = csvDocumentStart(rect[0]!) + csvRecords(rect.slice(1));
        const parsed = parseCsv(text);
        expect(parsed).toEqual(rect.map((r) => r.map((c) => (couldStartFormula(c) ? `'${c}` : c))));
        // What a spreadsheet sees first in a cell is never a formula character.
        for (const r of parsed) for (const c of r) expect(couldStartFormula(c)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
