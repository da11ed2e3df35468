/**
 * bench/results.json's shape, the targets of issue #7 (reported PASS/MISS, never failing
 * the run) and the printed tables.
 */
import type { ApiRow } from './api.js';
import type { ColdStartRow } from './cold-start.js';
import type { EngineDocumentFigures } from './engine-document.js';
import type { EngineFigures, EngineName, EngineSettings, SectionFigures } from './export.js';

export interface ExportRow {
  engine: EngineName;
  tasks: number;
  /** Wall time of the export step (runExportStep), s. */
  seconds: number;
  /** Objects written (all sections), per second. */
  rows_per_second: number;
  /** The export process's peak resident set (kernel high-water mark; includes PGlite's memory on the embedded engine). */
  peak_rss_mb: number;
  statements_per_1k_tasks: number;
  /** Largest page of database rows keysetPage returned, as it budgets them (Data API encoding). */
  max_page_bytes: number;
  /** The engine emitting the same tables as JSON (row_to_json), s. */
  engine_seconds: number;
  /** The engine writing the tasks and comments as the export does, and the other tables flat (bench/engine-document.ts), s. */
  engine_document_seconds: number;
  /** seconds / engine_document_seconds. */
  document_ratio: number;
  /** The rest of engineDocumentRun's figures (its parts' times, statements, what it wrote). */
  engine_document: Omit<EngineDocumentFigures, 'seconds'>;
  /** seconds / engine_seconds. */
  ratio: number;
  rows: number;
  statements: number;
  /** Time with a statement in flight, s. */
  sql_seconds: number;
  max_rendered_page_bytes: number;
  document_bytes: number;
  stored_bytes: number;
  /** RSS once the database is open and the job exists, just before the export starts. */
  rss_before_export_mb: number;
  /** peak_rss_mb - rss_before_export_mb: what the export itself adds. */
  rss_growth_mb: number;
  peak_heap_mb: number;
  /** CPU seconds of the export's process (all its threads) during the export. */
  cpu_seconds: number;
  /** V8's heap limit in the export's process (the deployed export worker's flags: lib/functions.ts). */
  heap_limit_mb: number;
  /** The engine's server_version, shared_buffers and work_mem during the run. */
  engine_settings: EngineSettings;
  engine_rows: number;
  engine_bytes: number;
  generate_seconds: number;
  sections: SectionFigures[];
  /** The engine's time per table. */
  engine_tables: EngineFigures['tables'];
}

export interface Target {
  part: 'export' | 'api' | 'cold_start';
  target: string;
  status: 'PASS' | 'MISS' | 'N/A';
  detail: string;
}

export interface Results {
  generated_at: string;
  machine: { cpus: number; cpu_model: string; memory_gb: number; node: string; platform: string; note: string };
  options: Record<string, unknown>;
  export: ExportRow[];
  api: ApiRow[];
  cold_start: ColdStartRow[];
  targets: Target[];
}

const MiB = 1024 * 1024;

const rssParts = (r: ExportRow) => `${r.rss_before_export_mb.toFixed(0)} MB before the export started, ${r.rss_growth_mb.toFixed(0)} MB added by it`;

export function exportTargets(rows: ExportRow[]): Target[] {
  const targets: Target[] = [];
  const engines = [...new Set(rows.map((r) => r.engine))];
  for (const engine of engines) {
    const list = rows.filter((r) => r.engine === engine).sort((a, b) => a.tasks - b.tasks);
    if (!list.length) continue;
    const smallest = list[0]!;
    const largest = list.at(-1)!;
    const million = list.find((r) => r.tasks >= 1_000_000);
    const tag = `[${engine}] `;
    targets.push(
      million
        ? { part: 'export', target: `${tag}peak RSS at 1M tasks < 256 MB`, status: million.peak_rss_mb < 256 ? 'PASS' : 'MISS', detail: `${million.peak_rss_mb.toFixed(0)} MB at ${million.tasks} tasks (${rssParts(million)})` }
        : { part: 'export', target: `${tag}peak RSS at 1M tasks < 256 MB`, status: 'N/A', detail: `1M not run (largest ${largest.tasks}: ${largest.peak_rss_mb.toFixed(0)} MB, ${rssParts(largest)})` },
    );
    const base = list.find((r) => r.tasks === 10_000) ?? smallest;
    const top = million ?? largest;
    targets.push(
      top === base
        ? { part: 'export', target: `${tag}peak RSS within 1.5x of the ${base.tasks} figure`, status: 'N/A', detail: 'one size only' }
        : {
            part: 'export',
            target: `${tag}peak RSS at ${top.tasks} within 1.5x of the ${base.tasks} figure`,
            status: top.peak_rss_mb <= 1.5 * base.peak_rss_mb ? 'PASS' : 'MISS',
            detail: `${top.peak_rss_mb.toFixed(0)} MB vs ${base.peak_rss_mb.toFixed(0)} MB (x${(top.peak_rss_mb / base.peak_rss_mb).toFixed(2)}); the export's own growth ${top.rss_growth_mb.toFixed(0)} MB vs ${base.rss_growth_mb.toFixed(0)} MB`,
          },
    );
    for (const r of list) {
      targets.push({
        part: 'export',
        target: `${tag}export/engine ratio <= 2.0 (aim 1.5) at ${r.tasks}`,
        status: r.ratio <= 2 ? 'PASS' : 'MISS',
        detail: `x${r.ratio.toFixed(2)} (${r.seconds.toFixed(1)} s vs ${r.engine_seconds.toFixed(1)} s)${r.ratio <= 1.5 ? ', within the aim' : ''}`,
      });
      targets.push({
        part: 'export',
        target: `${tag}the same ratio against the engine writing the same document, at ${r.tasks} (not the issue's baseline)`,
        status: r.document_ratio <= 2 ? 'PASS' : 'MISS',
        detail: `x${r.document_ratio.toFixed(2)} (${r.seconds.toFixed(1)} s vs ${r.engine_document_seconds.toFixed(1)} s)${r.document_ratio <= 1.5 ? ', within the aim' : ''}`,
      });
    }
    const per1k = list.map((r) => r.statements_per_1k_tasks);
    const spread = Math.max(...per1k) / Math.min(...per1k);
    targets.push(
      list.length < 2
        ? { part: 'export', target: `${tag}statements per 1,000 tasks constant in N`, status: 'N/A', detail: 'one size only' }
        : {
            part: 'export',
            target: `${tag}statements per 1,000 tasks constant in N (max/min <= 1.25)`,
            status: spread <= 1.25 ? 'PASS' : 'MISS',
            detail: list.map((r) => `${r.tasks}: ${r.statements_per_1k_tasks.toFixed(1)}`).join(', '),
          },
    );
    const worst = Math.max(...list.map((r) => r.max_page_bytes));
    const worstRendered = Math.max(...list.map((r) => r.max_rendered_page_bytes));
    targets.push({
      part: 'export',
      target: `${tag}every page < 1 MiB`,
      status: worst < MiB && worstRendered < MiB ? 'PASS' : 'MISS',
      detail: `largest database page ${(worst / 1024).toFixed(0)} KiB, largest rendered page ${(worstRendered / 1024).toFixed(0)} KiB`,
    });
  }
  return targets;
}

export function apiTargets(rows: ApiRow[]): Target[] {
  return rows
    .filter((r) => r.kind === 'http')
    .map((r) => ({ part: 'api' as const, target: `${r.route}: 0 errors`, status: r.errors === 0 ? ('PASS' as const) : ('MISS' as const), detail: `${r.errors} errors of ${r.requests} requests` }));
}

// --- Printing ----------------------------------------------------------------------------

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.map(line)].join('\n');
}

const n = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function exportTable(rows: ExportRow[]): string {
  return table(
    ['engine', 'tasks', 'rows', 'seconds', 'process CPU s', 'rows/s', 'peak RSS MB', '(export adds)', 'peak heap MB', 'stmts/1k tasks', 'max page KiB', 'engine s', 'ratio', 'same document s', 'ratio to it'],
    rows.map((r) => [
      r.engine,
      n(r.tasks),
      n(r.rows),
      n(r.seconds, 1),
      n(r.cpu_seconds, 1),
      n(r.rows_per_second),
      n(r.peak_rss_mb),
      n(r.rss_growth_mb),
      n(r.peak_heap_mb),
      n(r.statements_per_1k_tasks, 1),
      n(r.max_page_bytes / 1024),
      n(r.engine_seconds, 2),
      n(r.ratio, 1),
      n(r.engine_document_seconds, 2),
      n(r.document_ratio, 1),
    ]),
  );
}

export function sectionTable(row: ExportRow): string {
  return table(
    ['section', 'rows', 'pages', 'seconds', 'SQL s (sum)', 'statements'],
    row.sections.filter((s) => s.rows > 0 || s.seconds > 0.05).map((s) => [s.name, n(s.rows), n(s.pages), n(s.seconds, 2), n(s.sql_seconds, 2), n(s.statements)]),
  );
}

export function apiTable(rows: ApiRow[]): string {
  return table(
    ['route', 'kind', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'HTTP overhead'],
    rows.map((r) => [r.route, r.kind, r.connections, n(r.requests_per_second, 1), n(r.p50_ms, 1), n(r.p99_ms, 1), r.errors, r.http_overhead === undefined ? '' : `x${n(r.http_overhead, 1)}`]),
  );
}

export function coldStartTable(rows: ColdStartRow[]): string {
  return table(
    ['function', 'bundle KiB', 'init ms (median)', 'over empty ms', 'process ms'],
    rows.map((r) => [r.function, n(r.bundle_bytes / 1024), n(r.init_ms, 1), n(r.init_over_empty_ms, 1), n(r.process_ms)]),
  );
}

export function targetsTable(targets: Target[]): string {
  return table(
    ['target', 'status', 'measured'],
    targets.map((t) => [t.target, t.status, t.detail]),
  );
}
