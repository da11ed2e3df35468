#!/usr/bin/env node
/**
 * The "npm start answers within 20 s" promise, measured on a quiet machine before the
 * test suites run (inside jest, parallel suites would compete for the two cores and make
 * the figure meaningless). Starts package.json's start script on a fresh data directory,
 * waits for /api/1.0/health and /api/1.0/openapi.json, stops it with SIGTERM and expects a
 * clean exit. Exits non-zero when any of that fails or takes longer than the limit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIMIT_MS = 20_000;
const root = new URL('..', import.meta.url).pathname;
const script = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start;
const dataDir = mkdtempSync(join(tmpdir(), 'startup-check-'));
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const started = Date.now();
// Its own process group: tsx runs the server as a child process, and a failed check must stop both.
const child = spawn('sh', ['-c', `exec ${script}`], {
  cwd: root,
  detached: true,
  env: { ...process.env, LOCAL_DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '', PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

const fail = (why) => {
  process.stderr.write(`startup check FAILED: ${why}\n--- last answers ---\n${[...last].map(([p, a]) => `${p}: ${a}`).join('\n')}\n--- npm start output ---\n${output}\n`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
};

/** What each path answered last (a status, or the error), for the failure message. */
const last = new Map();
const ok = async (path) => {
  try {
    // A request that hangs is given up after 10 s and tried again (fetch would wait 300 s).
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    last.set(path, `HTTP ${res.status}`);
    return res.status === 200;
  } catch (error) {
    last.set(path, `${error?.name ?? 'Error'}: ${error?.message ?? error}`);
    return false;
  }
};

let readyMs = -1;
while (Date.now() - started < 60_000) {
  if (child.exitCode !== null) fail(`npm start exited early with ${child.exitCode}`);
  if ((await ok('/api/1.0/health')) && (await ok('/api/1.0/openapi.json'))) {
    readyMs = Date.now() - started;
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
if (readyMs < 0) fail('no answer within 60 s');
child.kill('SIGTERM');
const { code } = await exited;
rmSync(dataDir, { recursive: true, force: true });
if (code !== 0) fail(`exit code ${code} after SIGTERM`);
if (readyMs > LIMIT_MS) fail(`health and openapi.json answered after ${readyMs} ms (limit ${LIMIT_MS} ms)`);
process.stdout.write(`startup check: npm start answered /api/1.0/health and /api/1.0/openapi.json ${readyMs} ms after launch (limit ${LIMIT_MS} ms); SIGTERM closed it cleanly\n`);
