/**
 * Cold start: every function of lib/functions.ts bundled as the CDK bundles it (esbuild
 * with BUNDLING from lib/constructs/app-function.ts: one minified ESM file with a source
 * map, the AWS SDK inside), next to an empty handler bundled the same way. For each: the
 * bundle's size, and its module initialization time, the median over fresh Node processes
 * of the time `await import(bundle)` takes (Node's own start excluded), with the
 * environment the deployed function gets (dummy values: nothing calls AWS at import) and
 * NODE_OPTIONS=--enable-source-maps as the function construct sets it, plus the function's
 * pinned V8 flags on the command line (v8Flags in lib/functions.ts), as its exec wrapper starts it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLING, esbuildOptions } from '../lib/constructs/app-function.js';
import { FUNCTIONS, type FunctionSpec } from '../lib/functions.js';
import { ROOT } from './spawn.js';
import { DEPLOYED_ENV } from '../test/support/deployed-env.js';

export interface ColdStartRow {
  function: string;
  bundle_bytes: number;
  /** Median module initialization (import of the bundle), ms. */
  init_ms: number;
  /** init_ms minus the empty function's. */
  init_over_empty_ms: number;
  /** Median wall time of the whole process (start Node, import, exit), ms. */
  process_ms: number;
  samples: number;
}


const EMPTY_HANDLER = 'export const handler = async () => ({ statusCode: 200, body: "" });\n';

async function bundle(outDir: string, name: string, entry: { file: string } | { contents: string }): Promise<string> {
  const outfile = join(outDir, name, BUNDLING.outputFile);
  await build({
    ...('file' in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.contents, loader: 'ts', resolveDir: ROOT, sourcefile: 'empty.ts' } }),
    outfile,
    ...esbuildOptions(),
    logLevel: 'silent',
  });
  return outfile;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One fresh process importing the bundle: how long the import took, and the whole process. */
function sample(file: string, v8Flags: readonly string[]): { init: number; process: number } {
  const script = `const t0 = performance.now(); const m = await import(${JSON.stringify(`file://${file}`)}); const t1 = performance.now(); if (typeof m.handler !== 'function') throw new Error('no handler'); process.stdout.write(JSON.stringify({ init: t1 - t0 }));`;
  const started = performance.now();
  const result = spawnSync(process.execPath, [...v8Flags, '--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...DEPLOYED_ENV }, encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`importing ${file} failed: ${result.stderr}`);
  return { init: (JSON.parse(result.stdout) as { init: number }).init, process: elapsed };
}

export async function coldStart(options: { samples: number; functions?: string[]; log?: (line: string) => void }): Promise<ColdStartRow[]> {
  const names = options.functions ?? Object.keys(FUNCTIONS);
  for (const name of names) if (!(name in FUNCTIONS)) throw new Error(`no function ${name} in lib/functions.ts (${Object.keys(FUNCTIONS).join(', ')})`);
  const dir = await mkdtemp(join(tmpdir(), 'bench-bundles-'));
  try {
    const entries: [string, { file: string } | { contents: string }, readonly string[]][] = [
      ['(empty function)', { contents: EMPTY_HANDLER }, []],
      ...(Object.entries(FUNCTIONS) as [string, FunctionSpec][])
        .filter(([name]) => names.includes(name))
        .map(([name, spec]) => [name, { file: join(ROOT, spec.entry) }, spec.v8Flags ?? []] as [string, { file: string }, readonly string[]]),
    ];
    const files = await Promise.all(entries.map(async ([name, entry, v8Flags]) => [name, await bundle(dir, name.replace(/\W/g, '_'), entry), v8Flags] as const));
    // Rounds over all bundles (not all samples of one, then the next), so load from
    // anything else on the machine spreads over every function alike.
    const samples = files.map(() => [] as { init: number; process: number }[]);
    for (let round = 0; round < options.samples; round++) {
      files.forEach(([, file, v8Flags], i) => samples[i]!.push(sample(file, v8Flags)));
      options.log?.(`  cold start: round ${round + 1}/${options.samples}`);
    }
    const rows: ColdStartRow[] = [];
    for (const [i, [name, file]] of files.entries()) {
      rows.push({
        function: name,
        bundle_bytes: (await stat(file)).size,
        init_ms: median(samples[i]!.map((s) => s.init)),
        init_over_empty_ms: 0,
        process_ms: median(samples[i]!.map((s) => s.process)),
        samples: options.samples,
      });
    }
    const empty = rows[0]!.init_ms;
    for (const row of rows) row.init_over_empty_ms = row.init_ms - empty;
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
