/**
 * Child processes for the measurements. bench/child.ts is bundled once with esbuild (the
 * repository's code inside, packages left external and resolved through a node_modules
 * link next to the bundle), so children run on plain Node like a deployed function: no
 * TypeScript loader thread in their memory figures, no transpiling in their timings. The
 * SQL migrations are linked next to the bundle, where the migrator looks for them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface ChildBundle {
  file: string;
  dispose(): Promise<void>;
}

export async function bundleChild(): Promise<ChildBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-child-'));
  const file = join(dir, 'child.mjs');
  await build({
    entryPoints: { child: join(ROOT, 'bench', 'child.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    // Each role is a dynamic import in its own chunk: a child loads only its role's code and packages.
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // The migrator looks for its SQL files next to the code (as the deployed migrate function ships them).
  await symlink(join(ROOT, 'lambdas', 'db', 'migrations'), join(dir, 'migrations'), 'dir');
  return { file, dispose: () => rm(dir, { recursive: true, force: true }) };
}

type Reply = { ok: true; result: unknown } | { ok: false; error: string };

function spawnChild(bundle: ChildBundle, role: string, args: unknown, options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return fork(bundle.file, [role, JSON.stringify(args)], {
    execArgv: options.execArgv ?? [],
    // The children's own logs (the worker's info lines) are not the report.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN', ...options.env },
  });
}

/** Runs one role in a fresh process and returns what it answered. */
export function runChild<T>(bundle: ChildBundle, role: string, args: unknown, options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawnChild(bundle, role, args, options);
    let reply: Reply | undefined;
    child.on('message', (message) => (reply = message as Reply));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (reply?.ok) resolve(reply.result as T);
      else reject(new Error(`bench child ${role} failed (${signal ?? `exit ${code}`}): ${reply && !reply.ok ? reply.error : 'no answer'}`));
    });
  });
}

/** A long-lived child (the API server): its first message is its ready payload; then request/answer over IPC. */
export interface Service<Ready> {
  ready: Ready;
  request<T>(message: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startService<Ready>(bundle: ChildBundle, role: string, args: unknown, options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Service<Ready>> {
  const child = spawnChild(bundle, role, args, options);
  let pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.on('exit', (code, signal) => {
      exited = true;
      pending?.reject(new Error(`bench child ${role} exited (${signal ?? `exit ${code}`})`));
      done();
    }),
  );
  child.on('message', (message) => {
    const reply = message as Reply;
    const waiting = pending;
    pending = undefined;
    if (!waiting) return;
    if (reply.ok) waiting.resolve(reply.result);
    else waiting.reject(new Error(reply.error));
  });
  const ask = <T>(message: unknown) =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error(`bench child ${role} is not running`));
      pending = { resolve: resolve as (v: unknown) => void, reject };
      if (message !== undefined) child.send(message as object);
    });
  const ready = await ask<Ready>(undefined);
  return {
    ready,
    request: ask,
    async stop() {
      if (!exited) {
        child.send({ type: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
    },
  };
}
