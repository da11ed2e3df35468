/**
 * npm start as a user gets it: a real process, a real port, data that survives a
 * restart, a clean close on SIGTERM/SIGINT.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalMailer } from '../../lambdas/adapters/mail/local-mailer.js';
import { openPglite } from '../../lambdas/db/local-engines.js';
import { seededDataDir } from '../support/engines.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  base: string;
  readyMs: number;
}

/**
 * Runs package.json's start script (as `npm start` would, with node_modules/.bin on the
 * PATH, but exec'd so that signals reach the server itself rather than npm) and resolves
 * once /api/1.0/health answers.
 */
async function start(dataDir: string): Promise<Started> {
  const began = Date.now();
  const script = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
  // PORT=0: the server takes a free port and prints it (a port picked beforehand could be
  // taken by another suite's server in between).
  const env = { ...process.env, LOCAL_DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '', PATH: `${join(process.cwd(), 'node_modules/.bin')}:${process.env.PATH}` };
  const child = spawn('sh', ['-c', `exec ${script}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // The 20 s promise is measured by scripts/check-startup.mjs on a quiet machine before the
  // suites run; here, parallel suites share the cores, so only a generous bound applies.
  while (Date.now() - began < 60_000) {
    if (child.exitCode !== null) throw new Error(`npm start exited early (${child.exitCode}):\n${out}`);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)\/api\/1\.0/.exec(out)?.[1];
    // Every probe has its own deadline: a stuck connection cannot stall the loop.
    const ok = base ? await fetch(`${base}/api/1.0/health`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.ok, () => false) : false;
    if (base && ok) return { child, output: () => out, base, readyMs: Date.now() - began };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`npm start did not answer within 60 s:\n${out}`);
}

async function stop(started: Started, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      started.child.kill('SIGKILL');
      reject(new Error(`npm start did not exit within 60 s of ${signal}:\n${started.output()}`));
    }, 60_000);
  });
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('npm start', () => {
  test('serves health, OpenAPI and the outbox; data survives a restart; signals close it cleanly', async () => {
    // Already migrated (first-start migrations are timed by scripts/check-startup.mjs before the suites).
    const dataDir = await seededDataDir('local-e2e-');
    dirs.push(dataDir);

    const first = await start(dataDir);
    expect(first.output()).toContain(`${first.base}/api/1.0`);
    expect(first.output()).toContain(join(dataDir, 'outbox'));

    const health = await fetch(`${first.base}/api/1.0/health`);
    expect(await health.json()).toEqual({ data: { status: 'ok', database: 'pglite' } });
    const openapi = (await (await fetch(`${first.base}/api/1.0/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toContain('/health');

    // Mail written to the outbox (as the mail worker will) is listed newest first.
    const mailer = new LocalMailer({ dir: join(dataDir, 'outbox'), from: 'test@localhost' });
    await mailer.send({ to: ['first@example.com'], subject: 'First', text: 'one https://example.com/a' });
    await mailer.send({ to: ['second@example.com'], subject: 'Second', text: 'two https://example.com/b' });
    const outbox = (await (await fetch(`${first.base}/_local/outbox`)).json()) as { data: { subject: string; to: string[]; links: string[] }[] };
    expect(outbox.data.map((m) => m.subject)).toEqual(['Second', 'First']);
    expect(outbox.data[0]).toMatchObject({ to: ['second@example.com'], links: ['https://example.com/b'] });

    expect(await stop(first, 'SIGTERM')).toBe(0);
    expect(first.output()).toContain('closed cleanly');

    // Between runs, write a row straight into the data directory.
    const pglite = await openPglite(join(dataDir, 'db'));
    await pglite.query("insert into organizations (gid, name) values ('1000000000000001', 'Survives restarts')");
    const migrations = (await pglite.query<{ n: number }>('select count(*)::int as n from schema_migrations')).rows[0]!.n;
    await pglite.close();

    const second = await start(dataDir);
    expect((await (await fetch(`${second.base}/api/1.0/health`)).json()) as unknown).toEqual({ data: { status: 'ok', database: 'pglite' } });
    expect((await (await fetch(`${second.base}/_local/outbox`)).json()) as { data: unknown[] }).toMatchObject({ data: expect.arrayContaining([expect.objectContaining({ subject: 'First' })]) });
    expect(await stop(second, 'SIGINT')).toBe(0);

    const reopened = await openPglite(join(dataDir, 'db'));
    expect((await reopened.query<{ name: string }>("select name from organizations where gid = '1000000000000001'")).rows).toEqual([{ name: 'Survives restarts' }]);
    expect((await reopened.query<{ n: number }>('select count(*)::int as n from schema_migrations')).rows[0]!.n).toBe(migrations);
    await reopened.close();
  }, 300_000);
});
