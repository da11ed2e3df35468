/**
 * The repository suite: the same tests on PGlite, on the Data API stand-in (Aurora's
 * binding rules and limits) and on PostgreSQL when DATABASE_URL is set.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { sql } from 'kysely';
import { sequentialIds } from '../../lambdas/adapters/ids.js';
import { organizations } from '../../lambdas/db/repositories/organizations.js';
import { outbox } from '../../lambdas/db/repositories/outbox.js';
import { users } from '../../lambdas/db/repositories/users.js';
import { dateOnly, dateValue, decodeCursor, encodeCursor, gidIn, InvalidCursorError, isUniqueViolation, json, keysetPage, PAGE_BYTE_BUDGET } from '../../lambdas/db/query.js';
import { engineNames, openEngine, type TestEngine } from '../support/engines.js';

describe.each(engineNames)('repositories on %s', (engineName) => {
  let engine: TestEngine;
  const ids = sequentialIds(2_000_000_000_000_000 + engineNames.indexOf(engineName) * 1_000_000);
  const t0 = new Date('2026-05-01T10:00:00.123Z');

  beforeAll(async () => {
    engine = await openEngine(engineName);
  });
  afterAll(async () => {
    await engine?.close();
  });

  test('organizations, users and memberships round-trip with their types', async () => {
    const db = engine.db;
    const org = await organizations.create(db, { gid: ids.gid(), name: 'Acme “Ünïcode” ☃', now: t0 });
    expect(org).toMatchObject({ name: 'Acme “Ünïcode” ☃', plan: 'free', deleted_at: null });
    expect(org.created_at).toBeInstanceOf(Date);
    expect(org.created_at.toISOString()).toBe(t0.toISOString());

    const user = await users.create(db, { gid: ids.gid(), email: 'Ada@Example.com', name: 'Ada', now: t0 });
    await organizations.addMember(db, { gid: ids.gid(), organizationGid: org.gid, userGid: user.gid, role: 'super_admin', now: t0 });
    expect((await users.findByEmail(db, 'ada@example.COM'))?.gid).toBe(user.gid);
    expect(await organizations.setPlan(db, org.gid, 'paid', new Date(t0.getTime() + 1000))).toBe(true);
    expect(await organizations.setPlan(db, 'no-such-gid', 'paid', t0)).toBe(false);
    expect((await organizations.get(db, org.gid))?.plan).toBe('paid');
  });

  test('a duplicate email (any case) is a unique violation on every engine', async () => {
    await users.create(engine.db, { gid: ids.gid(), email: 'dup@example.com', name: 'One', now: t0 });
    const error = await users.create(engine.db, { gid: ids.gid(), email: 'DUP@example.com', name: 'Two', now: t0 }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  test('a failed transaction changes nothing', async () => {
    const gid = ids.gid();
    await expect(
      engine.db.transaction().execute(async (trx) => {
        await users.create(trx, { gid, email: `tx-${gid}@example.com`, name: 'Tx', now: t0 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await users.get(engine.db, gid)).toBeUndefined();
  });

  test('json, date and numeric values cross the engine intact', async () => {
    const doc = { nested: { list: [1, 'two', null, true] }, text: "quotes ' \" and \\ backslash", emoji: '🦄' };
    const { rows } = await sql<{ doc: typeof doc; day: string | Date; n: string | number }>`select ${json(doc)} as doc, ${dateValue('2026-02-28')} as day, count(*) as n from users`.execute(engine.db);
    expect(rows[0]!.doc).toEqual(doc);
    expect(dateOnly(rows[0]!.day)).toBe('2026-02-28');
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
  });

  test('gidIn: a list of gids bound as one parameter selects exactly those rows, none for an empty list; a comma is refused', async () => {
    const made: { gid: string }[] = [];
    for (let i = 0; i < 3; i++) made.push(await users.create(engine.db, { gid: ids.gid(), email: `in-${i}-${engineName}@example.com`, name: `In ${i}`, now: t0 }));
    const select = (gids: string[]) =>
      engine.db.selectFrom('users').select('gid').where(gidIn('gid', gids)).orderBy('gid').execute().then((rows) => rows.map((r) => r.gid));
    // 1,200 gids (most naming nobody): one parameter whatever the length.
    const many = [made[2]!.gid, ...Array.from({ length: 1200 }, (_, i) => String(9_000_000_000_000_000 + i)), made[0]!.gid];
    expect(await select(many)).toEqual([made[0]!.gid, made[2]!.gid]);
    expect(gidIn('gid', many).compile(engine.db).parameters).toHaveLength(1);
    expect(await select([made[1]!.gid])).toEqual([made[1]!.gid]);
    expect(await select([])).toEqual([]);
    expect(() => gidIn('gid', [made[0]!.gid, `${made[1]!.gid},${made[2]!.gid}`])).toThrow('not a gid');
  });

  describe('outbox', () => {
    test('enqueue is idempotent per dedupe key and claims are exclusive leases', async () => {
      const db = engine.db;
      const key = `login-alert-${ids.gid()}`;
      const first = ids.gid();
      expect(await outbox.enqueue(db, { gid: first, topic: 'mail', payload: { to: ['a@example.com'], subject: 'New login' }, now: t0, dedupeKey: key })).toBe(true);
      expect(await outbox.enqueue(db, { gid: ids.gid(), topic: 'mail', payload: { to: ['a@example.com'] }, now: t0, dedupeKey: key })).toBe(false);

      const claimed = await outbox.claimDue(db, { topic: 'mail', now: t0, limit: 10, leaseSeconds: 60 });
      expect(claimed.map((m) => m.gid)).toEqual([first]);
      expect(claimed[0]).toMatchObject({ attempts: 1, payload: { to: ['a@example.com'], subject: 'New login' } });
      // Leased: nobody else gets it until the lease ends.
      expect(await outbox.claimDue(db, { topic: 'mail', now: new Date(t0.getTime() + 59_000), limit: 10, leaseSeconds: 60 })).toEqual([]);
      // The holder died: after the lease the message is claimed again (at-least-once).
      const again = await outbox.claimDue(db, { topic: 'mail', now: new Date(t0.getTime() + 61_000), limit: 10, leaseSeconds: 60 });
      expect(again.map((m) => [m.gid, m.attempts])).toEqual([[first, 2]]);

      await outbox.markFailed(db, first, { error: 'SES throttled', retryAt: new Date(t0.getTime() + 300_000) });
      expect(await outbox.claimDue(db, { topic: 'mail', now: new Date(t0.getTime() + 200_000), limit: 10, leaseSeconds: 60 })).toEqual([]);
      const retried = await outbox.claimDue(db, { topic: 'mail', now: new Date(t0.getTime() + 300_000), limit: 10, leaseSeconds: 60 });
      expect(retried[0]?.last_error).toBe('SES throttled');
      await outbox.markDispatched(db, first, new Date(t0.getTime() + 301_000));
      expect(await outbox.claimDue(db, { topic: 'mail', now: new Date(t0.getTime() + 999_000), limit: 10, leaseSeconds: 60 })).toEqual([]);
      expect(await outbox.pendingCount(db, 'mail')).toBe(0);
    });
  });

  describe('keyset pagination', () => {
    let orgGid: string;
    let memberGid: string;
    beforeAll(async () => {
      const db = engine.db;
      memberGid = (await users.create(db, { gid: ids.gid(), email: `pager-${engineName}@example.com`, name: 'Pager', now: t0 })).gid;
      // 25 organizations; names repeat so the gid tie-breaker matters.
      for (let i = 0; i < 25; i++) {
        const org = await organizations.create(db, { gid: ids.gid(), name: `Org ${String(i % 7).padStart(2, '0')}`, now: t0 });
        await organizations.addMember(db, { gid: ids.gid(), organizationGid: org.gid, userGid: memberGid, role: 'member', now: t0 });
        orgGid = org.gid;
      }
    });

    test('walks every row exactly once, in order, with bounded pages', async () => {
      const seen: { gid: string; name: string }[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof organizations.listForUser>> = await organizations.listForUser(engine.db, memberGid, { limit: 4, after });
        expect(page.rows.length).toBeLessThanOrEqual(4);
        seen.push(...page.rows);
        after = page.next;
        pages++;
      } while (after);
      expect(pages).toBe(7);
      expect(seen).toHaveLength(25);
      expect(new Set(seen.map((r) => r.gid)).size).toBe(25);
      const sorted = [...seen].sort((a, b) => a.name.localeCompare(b.name) || a.gid.localeCompare(b.gid));
      expect(seen).toEqual(sorted);
      expect(seen.map((r) => r.gid)).toContain(orgGid);
    });

    test('the last page has no cursor; an exact multiple does not produce an empty page', async () => {
      const page = await organizations.listForUser(engine.db, memberGid, { limit: 25 });
      expect(page.rows).toHaveLength(25);
      expect(page.next).toBeNull();
    });

    test('timestamp and descending keys round-trip through the cursor', async () => {
      const db = engine.db;
      const base = db.selectFrom('organizations').select(['gid', 'created_at', 'name']).where('name', 'like', 'TS %');
      for (let i = 0; i < 6; i++) await organizations.create(db, { gid: ids.gid(), name: `TS ${i}`, now: new Date(t0.getTime() + (i % 3) * 1000) });
      const keys = [{ column: 'created_at', direction: 'desc' as const }, { column: 'gid' }];
      const first = await keysetPage(db, base, { keys, limit: 4 });
      const second = await keysetPage(db, base, { keys, limit: 4, after: first.next });
      const all = [...first.rows, ...second.rows];
      expect(all).toHaveLength(6);
      expect(second.next).toBeNull();
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [all[i - 1]!, all[i]!];
        expect(a.created_at.getTime() > b.created_at.getTime() || (a.created_at.getTime() === b.created_at.getTime() && a.gid < b.gid)).toBe(true);
      }
    });

    test('pages stay under the byte budget even when rows are large (the Data API refuses > 1 MiB)', async () => {
      const db = engine.db;
      for (let i = 0; i < 40; i++) await users.create(db, { gid: ids.gid(), email: `big-${String(i).padStart(2, '0')}-${engineName}@example.com`, name: 'Big', now: t0 });
      // Each row carries ~50 KB computed in the database.
      const base = db.selectFrom('users').select(['gid', 'email', sql<string>`repeat(email, 2000)`.as('name')]).where('email', 'like', 'big-%');
      // 40 rows of 50 KB would be ~2 MB in one response.
      if (engineName === 'data-api') await expect(base.execute()).rejects.toThrow(/response size limit/);
      let after: string | null = null;
      let total = 0;
      do {
        const page: Awaited<ReturnType<typeof keysetPage<{ gid: string; name: string; email: string }>>> = await keysetPage(db, base, { keys: [{ column: 'gid' }], limit: 100, after });
        const bytes = Buffer.byteLength(JSON.stringify(page.rows));
        expect(bytes).toBeLessThanOrEqual(PAGE_BYTE_BUDGET);
        expect(page.rows.length).toBeGreaterThan(0);
        total += page.rows.length;
        after = page.next;
      } while (after);
      expect(total).toBe(40);
    });

    test('a malformed cursor is rejected, not executed', async () => {
      const base = engine.db.selectFrom('organizations').select(['gid']);
      for (const bad of ['%%%', encodeCursor(['a', 'b']), Buffer.from('{"a":1}').toString('base64url'), Buffer.from('[{"ts":"nope"}]').toString('base64url')]) {
        await expect(keysetPage(engine.db, base, { keys: [{ column: 'gid' }], limit: 2, after: bad })).rejects.toThrow(InvalidCursorError);
      }
      expect(decodeCursor(encodeCursor(['x']), 1)).toEqual(['x']);
    });
  });
});
