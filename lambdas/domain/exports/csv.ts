/**
 * CSV for exports: the one place that knows how a cell is written.
 *
 * - RFC 4180 through csv-stringify: CRLF between records, fields quoted when they hold a
 *   comma, a quote, CR or LF, quotes doubled inside quoted fields.
 * - UTF-8 with a byte order mark at the start of the document, so spreadsheet apps read
 *   non-ASCII text right.
 * - CSV injection (OWASP "CSV Injection"): a cell whose text starts with a character a
 *   spreadsheet may read as the start of a formula (= + - @, tab, CR, LF, or the
 *   full-width = + - @ some spreadsheet apps normalise) gets a single quote in front. Every
 *   cell goes through this, header cells included, whatever the column. The rest of the
 *   text is kept exactly: parsing the CSV gives back the original text with that one
 *   leading quote added, and nothing else changed.
 */
import { stringify } from 'csv-stringify/sync';

/** U+FEFF, written once at the start of a CSV document. */
export const UTF8_BOM = '\uFEFF';

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';

/** Characters that may start a formula in a spreadsheet app. */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r', '\n', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

/** True when a spreadsheet app could read the text as a formula. */
export function couldStartFormula(text: string): boolean {
  return text.length > 0 && FORMULA_START.has(text[0]!);
}

/** The text of a cell as written: neutralized with a leading single quote when it could start a formula. */
export function neutralizeCell(value: string | null | undefined): string {
  const text = value ?? '';
  return couldStartFormula(text) ? `'${text}` : text;
}

/** Cells as text (absent values are empty cells). */
export type CsvRecord = readonly (string | null | undefined)[];

// quote_record_delimiter: csv-stringify stops quoting fields with a lone CR or LF once a
// record delimiter is given; such fields must be quoted (RFC 4180, and spreadsheet apps
// would otherwise start a new row there).
const OPTIONS = { record_delimiter: 'windows', quote_record_delimiter: true, quote: '"', escape: '"', eof: true, bom: false } as const;

/** CSV text for records (each ending with CRLF); every cell neutralized. */
export function csvRecords(records: readonly CsvRecord[]): string {
  if (records.length === 0) return '';
  return stringify(
    records.map((r) => r.map(neutralizeCell)),
    OPTIONS,
  );
}

/** The start of a CSV document: the byte order mark and the header record. */
export function csvDocumentStart(header: readonly string[]): string {
  return UTF8_BOM + csvRecords([header]);
}
