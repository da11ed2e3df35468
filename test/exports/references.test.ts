/**
 * The organization export's reference cache (lambdas/domain/exports/references.ts): the
 * people, projects, sections, teams and tags that tasks and comments name, read once and
 * kept within a byte budget. Run on the Data API stand-in (64 KB rows, 1 MiB responses),
 * where heavy names must still be read in pages.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Kysely } from 'kysely';
import type { DB } from '../../lambdas/db/schema.js';
import { REFERENCE_READ_GIDS, ReferenceCache } from '../../lambdas/domain/exports/references.js';
import { openEngine, type TestEngine } from '../support/engines.js';

const at = new Date('2026-03-01T10:00:00.000Z');
const cutoff = new Date('2026-02-01T00:00:00.000Z');

let engine: TestEngine;
const gid = (() => {
  let n = 7_300_000_000_000_000;
  return () => String(++n);
})();
const org = gid();
const otherOrg = gid();
/** More people than one statement reads, with names that escape to ~1.5 KB each (over 1 MiB together). */
const people = Array.from({ length: REFERENCE_READ_GIDS + 300 }, () => gid());
const heavyName = (i: number) => `P${i} "${'\u0001'.repeat(248)}`;
const team = gid();
const project = gid();
const deletedProject = gid();
const foreignProject = gid();
const section = gid();
const tag = gid();
const oldTag = gid();
const recentlyDeletedTag = gid();
const foreignTag = gid();

/** The engine's database, counting statements into `counter.n`. */
function counted(counter: { n: number; fail?: boolean }): Kysely<DB> {
  return engine.db.withPlugin({
    transformQuery: (args) => {
      if (counter.fail) throw new Error('database unavailable');
      return args.node;
    },
    transformResult: async (args) => {
      counter.n += 1;
      return args.result;
    },
  });
}

beforeAll(async () => {
  engine = await openEngine('data-api');
  const db = engine.db;
  await db.insertInto('organizations').values([org, otherOrg].map((g) => ({ gid: g, name: `Org ${g}`, created_at: at, modified_at: at }))).execute();
  for (let s = 0; s < people.length; s += 200) {
    await db
      .insertInto('users')
      .values(people.slice(s, s + 200).map((g, i) => ({ gid: g, email: `r${g}@example.com`, name: heavyName(s + i), created_at: at, modified_at: at })))
      .execute();
  }
  await db.insertInto('teams').values({ gid: team, organization_gid: org, name: 'Team "one"', visibility: 'public', created_at: at, modified_at: at }).execute();
  await db.insertInto('projects').values([
    { gid: project, organization_gid: org, team_gid: team, name: 'Launch', created_at: at, modified_at: at },
    { gid: deletedProject, organization_gid: org, name: 'Old', created_at: at, modified_at: at, deleted_at: new Date('2025-01-01T00:00:00Z') },
    { gid: foreignProject, organization_gid: otherOrg, name: 'Elsewhere', created_at: at, modified_at: at },
  ]).execute();
  await db.insertInto('sections').values({ gid: section, project_gid: project, name: 'Doing', position: 1, created_at: at }).execute();
  await db.insertInto('tags').values([
    { gid: tag, organization_gid: org, name: 'urgent', created_at: at },
    { gid: oldTag, organization_gid: org, name: 'gone', created_at: at, deleted_at: new Date('2026-01-15T00:00:00Z') },
    { gid: recentlyDeletedTag, organization_gid: org, name: 'just gone', created_at: at, deleted_at: new Date('2026-02-15T00:00:00Z') },
    { gid: foreignTag, organization_gid: otherOrg, name: 'theirs', created_at: at },
  ]).execute();
}, 60_000);

afterAll(async () => {
  await engine?.close();
});

describe('ReferenceCache', () => {
  test('reads what a page names once per kind, in pages under the Data API limits, and keeps it', async () => {
    const counter = { n: 0 };
    const cache = new ReferenceCache(counted(counter), { organizationGid: org, cutoff });
    const named = [...people, people[0]!, null, people[5]!];
    const found = await cache.resolve('user', named);
    expect(found.size).toBe(people.length);
    people.forEach((g, i) => expect(JSON.parse(found.get(g)!.json)).toEqual({ gid: g, resource_type: 'user', name: heavyName(i) }));
    // Two chunks of gids; the heavy names need more than one response (1 MiB) for the first.
    expect(counter.n).toBeGreaterThanOrEqual(3);
    const read = counter.n;
    const again = await cache.resolve('user', [people[7]!, people[people.length - 1]!]);
    expect(counter.n).toBe(read);
    expect(JSON.parse(again.get(people[7]!)!.json).name).toBe(heavyName(7));
  });

  test('scoped as the export is: other organizations and tags deleted before the cutoff are left out; deleted projects are not', async () => {
    const cache = new ReferenceCache(engine.db, { organizationGid: org, cutoff });
    const projects = await cache.resolve('project', [project, deletedProject, foreignProject, gid()]);
    expect(projects.get(project)).toEqual({ json: JSON.stringify({ gid: project, resource_type: 'project', name: 'Launch' }), team });
    expect(JSON.parse(projects.get(deletedProject)!.json).name).toBe('Old');
    expect(projects.get(deletedProject)!.team).toBeNull();
    expect(projects.get(foreignProject)).toBeNull();
    const tags = await cache.resolve('tag', [tag, oldTag, recentlyDeletedTag, foreignTag]);
    expect([...tags].filter(([, v]) => v !== null).map(([g]) => g)).toEqual([tag, recentlyDeletedTag]);
    const teams = await cache.resolve('team', [team]);
    expect(JSON.parse(teams.get(team)!.json)).toEqual({ gid: team, resource_type: 'team', name: 'Team "one"' });
    const sections = await cache.resolve('section', [section]);
    expect(JSON.parse(sections.get(section)!.json)).toEqual({ gid: section, resource_type: 'section', name: 'Doing' });
  });

  test('keeps at most its capacity: the oldest go first and are read again when named again', async () => {
    const counter = { n: 0 };
    const capacity = 20_000; // room for about six heavy names
    const cache = new ReferenceCache(counted(counter), { organizationGid: org, cutoff }, capacity);
    let largest = 0;
    for (const g of people.slice(0, 40)) {
      await cache.resolve('user', [g]);
      largest = Math.max(largest, cache.bytes);
    }
    expect(counter.n).toBe(40);
    expect(largest).toBeLessThanOrEqual(capacity);
    expect(cache.bytes).toBeGreaterThan(capacity / 2);
    // The most recent is still kept; the first has gone.
    await cache.resolve('user', [people[39]!]);
    expect(counter.n).toBe(40);
    const first = await cache.resolve('user', [people[0]!]);
    expect(counter.n).toBe(41);
    expect(JSON.parse(first.get(people[0]!)!.json).name).toBe(heavyName(0));
  });

  test('a failed read is not kept: the page fails, and the next one reads again', async () => {
    const counter: { n: number; fail?: boolean } = { n: 0, fail: true };
    const cache = new ReferenceCache(counted(counter), { organizationGid: org, cutoff });
    await expect(cache.resolve('tag', [tag])).rejects.toThrow('database unavailable');
    counter.fail = false;
    const found = await cache.resolve('tag', [tag]);
    expect(JSON.parse(found.get(tag)!.json).name).toBe('urgent');
    expect(counter.n).toBe(1);
  });

  test('pages read at the same time share one read of what they both name', async () => {
    const counter = { n: 0 };
    const cache = new ReferenceCache(counted(counter), { organizationGid: org, cutoff });
    const [a, b] = await Promise.all([cache.resolve('section', [section]), cache.resolve('section', [section])]);
    expect(a.get(section)).toEqual(b.get(section));
    expect(counter.n).toBe(1);
  });
});
