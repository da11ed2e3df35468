/**
 * Crash safety (issue 7): the local server (bin/local.ts, as `npm start` runs it, on
 * embedded PGlite under LOCAL_DATA_DIR) is killed with SIGKILL while clients write, and
 * restarted on the same data directory, several times over.
 *
 * Every request the server acknowledged (a 2xx received by the client) must survive:
 * every acknowledged task is there after the restart with what was written, the
 * database opens cleanly (the server starts, answers, lists and writes again), the
 * session issued before the crash still works, a last graceful SIGTERM closes it
 * cleanly, and amcheck finds every index consistent with its table and no corrupt heap
 * page. Requests cut off by the kill may or may not have been committed; nothing else
 * is expected of them.
 *
 * PGlite runs PostgreSQL with fsync off (its default start parameters include -F) and
 * the Node file system writes straight through to the host's files: a killed process
 * loses nothing the kernel already has, which is what this test checks. A power loss or
 * kernel crash is another matter (see the report in the session that wrote this file).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { amcheck } from '@electric-sql/pglite/contrib/amcheck';
import { seededDataDir } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CYCLES = 3;

interface Server {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts bin/local.ts as its own process (node with the tsx loader, so the kill reaches the server itself). */
async function startServer(dataDir: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCAL_DATA_DIR: dataDir, PORT: '0' };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not the server's business
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'local.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 90 s:\n${out}`)), 90_000);
    const check = () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)\/api\/1\.0/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
  return { child, baseUrl, output: () => out, exited };
}

async function call(base: string, method: string, path: string, init: { token?: string; data?: unknown } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...(init.data !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(init.data !== undefined ? { body: JSON.stringify({ data: init.data }) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let dataDir: string;
let server: Server | undefined;

beforeAll(async () => {
  dataDir = await seededDataDir('reliability-crash-');
}, 60_000);

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('kill -9 during writes, restart on the same data directory', () => {
  test(`${CYCLES} crashes: every acknowledged task survives, the database opens cleanly`, async () => {
    server = await startServer(dataDir);
    const signup = await call(server.baseUrl, 'POST', '/api/1.0/auth/signup', { data: { email: `crash-${Date.now().toString(36)}@example.com`, password: 'a long enough passphrase', name: 'Crash tester', organization_name: 'Crash org' } });
    expect(signup.status).toBe(201);
    const token = signup.body.data.token as string;
    const workspace = signup.body.data.organization.gid as string;
    const project = await call(server.baseUrl, 'POST', '/api/1.0/projects', { token, data: { name: 'Crash project', workspace } });
    expect(project.status).toBe(201);
    const projectGid = project.body.data.gid as string;

    const acknowledged = new Map<string, { name: string; notes: string }>();
    const report: string[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const base = server.baseUrl;
      let stop = false;
      let sent = 0;
      let failed = 0;
      const before = acknowledged.size;
      // Eight clients write tasks as fast as they can.
      const client = async (c: number) => {
        for (let k = 0; !stop; k++) {
          const name = `cycle ${cycle} client ${c} task ${k}`;
          const notes = `${'x'.repeat((k % 7) * 500)} ${name}`;
          sent++;
          try {
            const res = await call(base, 'POST', '/api/1.0/tasks', { token, data: { name, notes, projects: [projectGid] } });
            if (res.status === 201) acknowledged.set(res.body.data.gid, { name, notes });
            else throw new Error(`a write was refused before the crash: ${res.status} ${JSON.stringify(res.body)}`);
          } catch (error) {
            if (!stop) throw error;
            failed++; // cut off by the kill: not acknowledged
          }
        }
      };
      const clients = Array.from({ length: 8 }, (_, c) => client(c));
      // Kill in the middle of the stream: once some writes were acknowledged in this cycle, at a random moment.
      while (acknowledged.size - before < 40) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      stop = true;
      server.child.kill('SIGKILL');
      const exit = await server.exited;
      expect(exit.signal).toBe('SIGKILL');
      await Promise.all(clients);
      const acked = acknowledged.size - before;

      // Restart on the same directory: it must open (crash recovery) and answer.
      const started = Date.now();
      server = await startServer(dataDir);
      const restartMs = Date.now() - started;
      expect((await call(server.baseUrl, 'GET', '/api/1.0/health')).status).toBe(200);

      // Every acknowledged task, with what was written (the session from before the crashes still works).
      const missing: string[] = [];
      const wrong: string[] = [];
      const entries = [...acknowledged];
      for (let i = 0; i < entries.length; i += 16) {
        await Promise.all(
          entries.slice(i, i + 16).map(async ([gid, want]) => {
            const res = await call(server!.baseUrl, 'GET', `/api/1.0/tasks/${gid}`, { token });
            if (res.status !== 200) missing.push(`${gid} (${want.name}): ${res.status}`);
            else if (res.body.data.name !== want.name || res.body.data.notes !== want.notes) wrong.push(`${gid}: ${res.body.data.name}`);
          }),
        );
      }
      expect({ cycle, missing, wrong }).toEqual({ cycle, missing: [], wrong: [] });

      // The project's list holds them all (and perhaps tasks whose answer the kill cut off).
      const listed = new Set<string>();
      let offset: string | undefined;
      do {
        const page = await call(server.baseUrl, 'GET', `/api/1.0/projects/${projectGid}/tasks?limit=100${offset ? `&offset=${offset}` : ''}`, { token });
        expect(page.status).toBe(200);
        for (const t of page.body.data) listed.add(t.gid);
        offset = page.body.next_page?.offset;
      } while (offset);
      expect([...acknowledged.keys()].filter((g) => !listed.has(g))).toEqual([]);
      report.push(`cycle ${cycle}: ${sent} sent, ${acked} acknowledged, ${failed} cut off, ${listed.size - acknowledged.size} committed without an answer; restart ${restartMs} ms`);
    }

    // Still writable after the crashes, and a graceful stop closes cleanly.
    const after = await call(server.baseUrl, 'POST', '/api/1.0/tasks', { token, data: { name: 'after the crashes', projects: [projectGid] } });
    expect(after.status).toBe(201);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect({ code: exit.code, closed: server.output().includes('closed cleanly') }).toEqual({ code: 0, closed: true });

    // The files themselves: every btree index agrees with its table (all heap tuples indexed), and no heap page is corrupt (amcheck).
    const pg = await PGlite.create({ dataDir: join(dataDir, 'db'), extensions: { amcheck } });
    try {
      await pg.exec('create extension if not exists amcheck');
      const indexes = (await pg.query<{ name: string }>(`select c.oid::regclass::text as name from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam join pg_namespace n on n.oid = c.relnamespace where a.amname = 'btree' and n.nspname = 'public'`)).rows;
      const tables = (await pg.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = 'public'`)).rows;
      expect(indexes.length).toBeGreaterThan(10);
      for (const { name } of indexes) await pg.query('select bt_index_check($1::regclass, true)', [name]);
      const corrupt: string[] = [];
      for (const { name } of tables) for (const row of (await pg.query<{ msg: string }>('select msg from verify_heapam($1::regclass)', [name])).rows) corrupt.push(`${name}: ${row.msg}`);
      expect(corrupt).toEqual([]);
      report.push(`amcheck: ${indexes.length} indexes and ${tables.length} tables verified`);
    } finally {
      await pg.close();
    }
    process.stdout.write(`crash test: ${acknowledged.size} acknowledged tasks, all present after ${CYCLES} SIGKILLs\n  ${report.join('\n  ')}\n`);
  }, 240_000);
});
