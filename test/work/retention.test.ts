/** The daily purge of deleted work: tasks and attachments after 30 days; projects and teams are kept. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { BlobStore } from '../../lambdas/adapters/ports.js';
import { runPurge } from '../../lambdas/workers/purge.js';
import { identityHarness, type IdentityHarness, apiCall } from '../support/identity.js';
import { customField, project, team } from '../support/graph.js';
import { unusedBlobs } from '../support/http.js';
import { organizationWithRoles } from '../support/world.js';

let h: IdentityHarness;
const deletedBlobs: string[] = [];
const blobs: BlobStore = { ...unusedBlobs, delete: async (key: string) => void deletedBlobs.push(key) };

beforeAll(async () => {
  h = await identityHarness({ auth: { sessionIdleSeconds: 400 * 86_400, sessionAbsoluteSeconds: 400 * 86_400 } });
});
afterAll(async () => {
  await h?.close();
});

test('tasks deleted over 30 days ago go with everything attached; recent and restored ones stay; projects and teams are kept', async () => {
  const w = await organizationWithRoles(h);
  const api = (method: string, path: string, data?: unknown) => apiCall(h, w.member.token, method, path, data);
  const tm = await team(h, w.org.gid);
  const p = await project(h, w.org.gid, { team: tm });
  const field = await customField(h, w.org.gid, 'text');
  const tag = (await api('POST', '/tags', { name: 'old', workspace: w.org.gid })).body.data.gid;
  const doomed = (await api('POST', '/tasks', { name: 'Doomed', projects: [p], tags: [tag], custom_fields: { [field.gid]: 'v' } })).body.data.gid;
  const child = (await api('POST', `/tasks/${doomed}/subtasks`, { name: 'Doomed child' })).body.data.gid;
  const story = (await api('POST', `/tasks/${doomed}/stories`, { text: 'bye' })).body.data.gid;
  await api('POST', `/stories/${story}/like`, { liked: true });
  await api('POST', `/tasks/${doomed}/like`, { liked: true });
  const attachment = h.deps.ids.gid();
  await h.engine.db.insertInto('attachments').values({ gid: attachment, organization_gid: w.org.gid, parent_type: 'task', parent_gid: doomed, name: 'a.pdf', content_type: 'application/pdf', size: 3, blob_key: `attachments/${w.org.gid}/doomed.pdf`, created_at: h.clock.now() }).execute();
  const kept = (await api('POST', '/tasks', { name: 'Kept', projects: [p] })).body.data.gid;
  const restored = (await api('POST', '/tasks', { name: 'Restored', projects: [p] })).body.data.gid;

  const deletedAt = h.clock.now();
  await api('DELETE', `/tasks/${doomed}`);
  await api('DELETE', `/tasks/${restored}`);
  await api('POST', `/tasks/${restored}/restore`);
  await h.engine.db.updateTable('projects').set({ deleted_at: h.clock.now() }).where('gid', '=', p).execute();
  await h.engine.db.updateTable('teams').set({ deleted_at: h.clock.now() }).where('gid', '=', tm).execute();

  const deps = { ...h.deps, blobs };
  h.clock.advance(29 * 86_400_000);
  expect((await runPurge(deps)).tasksPurged).toBe(0);
  h.clock.advance(2 * 86_400_000);
  const result = await runPurge(deps);
  expect(result).toMatchObject({ tasksPurged: 2, attachmentsPurged: 1, blobsDeleted: 1 });
  expect(deletedBlobs).toEqual([`attachments/${w.org.gid}/doomed.pdf`]);

  const remaining = (await h.engine.db.selectFrom('tasks').select('gid').where('gid', 'in', [doomed, child, kept, restored]).execute()).map((r) => r.gid).sort();
  expect(remaining).toEqual([kept, restored].sort());
  for (const [table, column] of [['stories', 'task_gid'], ['task_tags', 'task_gid'], ['task_likes', 'task_gid'], ['task_projects', 'task_gid'], ['task_custom_field_values', 'task_gid'], ['task_followers', 'task_gid']] as const) {
    expect(await h.engine.db.selectFrom(table).select(column).where(column, 'in', [doomed, child]).execute()).toEqual([]);
  }
  expect(await h.engine.db.selectFrom('story_likes').select('story_gid').where('story_gid', '=', story).execute()).toEqual([]);
  // What was purged is logged (with when it was deleted) for the tombstones of incremental exports.
  const logged = await h.engine.db.selectFrom('deleted_objects').select(['organization_gid', 'resource_type', 'gid', 'deleted_at']).where('gid', 'in', [doomed, child, story, attachment, kept, restored]).execute();
  const at = deletedAt.toISOString();
  expect(logged.map((r) => `${r.organization_gid} ${r.resource_type} ${r.gid} ${r.deleted_at.toISOString()}`).sort()).toEqual(
    [`${w.org.gid} attachment ${attachment} ${at}`, `${w.org.gid} story ${story} ${at}`, `${w.org.gid} task ${child} ${at}`, `${w.org.gid} task ${doomed} ${at}`].sort(),
  );
  expect(await h.engine.db.selectFrom('projects').select('gid').where('gid', '=', p).execute()).toHaveLength(1);
  expect(await h.engine.db.selectFrom('teams').select('gid').where('gid', '=', tm).execute()).toHaveLength(1);
  expect((await runPurge(deps)).tasksPurged).toBe(0);
});

test('an attachment deleted on its own goes after 30 days with its blob and a tombstone; its task and the other attachments stay', async () => {
  const w = await organizationWithRoles(h);
  const api = (method: string, path: string, data?: unknown) => apiCall(h, w.member.token, method, path, data);
  const p = await project(h, w.org.gid, { team: await team(h, w.org.gid) });
  const task = (await api('POST', '/tasks', { name: 'Keeps its task', projects: [p] })).body.data.gid;
  const attach = async (name: string) => {
    const gid = h.deps.ids.gid();
    await h.engine.db.insertInto('attachments').values({ gid, organization_gid: w.org.gid, parent_type: 'task', parent_gid: task, name, content_type: 'text/plain', size: 1, blob_key: `attachments/${w.org.gid}/${gid}`, created_at: h.clock.now() }).execute();
    return gid;
  };
  const removed = await attach('removed.txt');
  const other = await attach('other.txt');
  expect((await api('DELETE', `/attachments/${removed}`)).status).toBe(200);
  const deletedAt = h.clock.now();
  expect((await api('GET', `/attachments/${removed}`)).status).toBe(404);

  const deps = { ...h.deps, blobs };
  deletedBlobs.length = 0;
  h.clock.advance(29 * 86_400_000);
  expect(await runPurge(deps)).toMatchObject({ attachmentsPurged: 0, blobsDeleted: 0 });
  expect(await h.engine.db.selectFrom('attachments').select('gid').where('gid', '=', removed).execute()).toHaveLength(1); // restorable until then
  h.clock.advance(2 * 86_400_000);
  expect(await runPurge(deps)).toMatchObject({ tasksPurged: 0, attachmentsPurged: 1, blobsDeleted: 1 });
  expect(deletedBlobs).toEqual([`attachments/${w.org.gid}/${removed}`]);
  expect((await h.engine.db.selectFrom('attachments').select('gid').where('parent_gid', '=', task).execute()).map((r) => r.gid)).toEqual([other]);
  expect(await h.engine.db.selectFrom('tasks').select('gid').where('gid', '=', task).execute()).toHaveLength(1);
  const logged = await h.engine.db.selectFrom('deleted_objects').select(['resource_type', 'deleted_at']).where('gid', '=', removed).execute();
  expect(logged.map((r) => `${r.resource_type} ${r.deleted_at.toISOString()}`)).toEqual([`attachment ${deletedAt.toISOString()}`]);
  expect(await runPurge(deps)).toMatchObject({ attachmentsPurged: 0, blobsDeleted: 0 });
});
