/**
 * Custom fields, enum options and project custom field settings through the HTTP
 * handler: Asana's shapes, the access model (guests see only fields of their projects,
 * only full members change definitions, other organizations get 404), ordering of enum
 * options and settings, keyset pagination, soft deletion (values vanish from tasks),
 * disabled options on tasks, and validation with field paths.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildOpenApi } from '../../lambdas/http/openapi.js';
import { routes } from '../../lambdas/http/route-table.js';
import { customFieldRoutes } from '../../lambdas/http/routes/custom-fields.js';
import { identityHarness, type Answer, type IdentityHarness, apiCall } from '../support/identity.js';
import { project } from '../support/graph.js';
import { organizationWithRoles, person } from '../support/world.js';

let h: IdentityHarness;
let w: Awaited<ReturnType<typeof organizationWithRoles>>;
let other: Awaited<ReturnType<typeof organizationWithRoles>>;

beforeAll(async () => {
  h = await identityHarness({ extraRoutes: customFieldRoutes });
  w = await organizationWithRoles(h);
  other = await organizationWithRoles(h, 'Other org');
});
afterAll(async () => {
  await h?.close();
});

const api = (token: string | undefined, method: string, path: string, data?: unknown): Promise<Answer> =>
  apiCall(h, token, method, path, data);
const messages = (a: Answer): string[] => (a.body?.errors ?? []).map((e: { message: string }) => e.message);
const gids = (items: { gid: string }[]) => items.map((i) => i.gid);

let counter = 0;
const uniqueName = (base: string) => `${base} ${++counter}`;

async function createField(data: Record<string, unknown>, token = w.member.token): Promise<any> {
  const res = await api(token, 'POST', '/custom_fields', { workspace: w.org.gid, name: uniqueName('Field'), ...data });
  expect(res.status).toBe(201);
  return res.body.data;
}

const enumField = (names: string[], type: 'enum' | 'multi_enum' = 'enum') => createField({ resource_subtype: type, enum_options: names.map((name) => ({ name })) });
const optionNames = (field: { enum_options: { name: string }[] }) => field.enum_options.map((o) => o.name);

async function fieldCount(): Promise<number> {
  const row = await h.engine.db.selectFrom('custom_fields').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('custom field definitions', () => {
  test('every type is created with Asana\'s full shape and read back', async () => {
    const text = await createField({ resource_subtype: 'text', description: 'Free text' });
    expect(text).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'custom_field',
      name: expect.stringMatching(/^Field \d+$/),
      description: 'Free text',
      resource_subtype: 'text',
      type: 'text',
      representation_type: 'text',
      created_by: { gid: w.member.gid, resource_type: 'user', name: w.member.name },
      is_global_to_workspace: true,
      has_notifications_enabled: false,
      format: 'none',
      currency_code: null,
      custom_label: null,
      custom_label_position: null,
      is_formula_field: false,
      is_value_read_only: false,
      id_prefix: null,
      asana_created_field: null,
    });
    expect((await api(w.member.token, 'GET', `/custom_fields/${text.gid}`)).body.data).toEqual(text);

    const num = await createField({ resource_subtype: 'number', precision: 3 });
    expect(num).toMatchObject({ resource_subtype: 'number', precision: 3 });
    expect(num).not.toHaveProperty('enum_options');
    expect((await createField({ resource_subtype: 'number' })).precision).toBe(0);

    const en = await createField({ resource_subtype: 'enum', enum_options: [{ name: 'Low', color: 'green' }, { name: 'High', color: 'red', enabled: true }, { name: 'Old', enabled: false }] });
    expect(en.enum_options).toEqual([
      { gid: expect.any(String), resource_type: 'enum_option', name: 'Low', enabled: true, color: 'green' },
      { gid: expect.any(String), resource_type: 'enum_option', name: 'High', enabled: true, color: 'red' },
      { gid: expect.any(String), resource_type: 'enum_option', name: 'Old', enabled: false, color: 'none' },
    ]);
    expect(en).not.toHaveProperty('precision');
    const multi = await enumField(['A', 'B'], 'multi_enum');
    expect(optionNames(multi)).toEqual(['A', 'B']);
    for (const type of ['date', 'people'] as const) expect(await createField({ resource_subtype: type })).toMatchObject({ resource_subtype: type, type });
  });

  test('bad input is refused with field paths and creates nothing', async () => {
    const before = await fieldCount();
    const cases: [Record<string, unknown>, string][] = [
      [{ resource_subtype: undefined }, 'data.resource_subtype'],
      [{ resource_subtype: 'reference' }, 'data.resource_subtype'],
      [{ resource_subtype: 'text', name: '  ' }, 'data.name'],
      [{ resource_subtype: 'number', precision: 7 }, 'data.precision'],
      [{ resource_subtype: 'number', precision: 1.5 }, 'data.precision'],
      [{ resource_subtype: 'text', precision: 2 }, 'data.precision'],
      [{ resource_subtype: 'text', enum_options: [{ name: 'x' }] }, 'data.enum_options'],
      [{ resource_subtype: 'enum' }, 'data.enum_options'],
      [{ resource_subtype: 'enum', enum_options: [{ name: 'only', enabled: false }] }, 'data.enum_options'],
      [{ resource_subtype: 'enum', enum_options: [{ name: 'a', color: 'chartreuse' }] }, 'data.enum_options.0.color'],
      [{ resource_subtype: 'enum', enum_options: [{ name: '' }] }, 'data.enum_options.0.name'],
      [{ resource_subtype: 'text', format: 'currency' }, 'data.format'],
      [{ resource_subtype: 'text', workspace: 'abc' }, 'data.workspace'],
    ];
    for (const [data, path] of cases) {
      const res = await api(w.member.token, 'POST', '/custom_fields', { workspace: w.org.gid, name: uniqueName('Bad'), ...data });
      expect({ data, status: res.status }).toEqual({ data, status: 400 });
      expect({ data, messages: messages(res).some((m) => m.startsWith(`${path}:`)) }).toEqual({ data, messages: true });
    }
    expect(await fieldCount()).toBe(before);
  });

  test('names are unique in a workspace (case-insensitively), free again after deletion, and per workspace', async () => {
    const name = uniqueName('Priority');
    const first = await createField({ resource_subtype: 'text', name });
    const dup = await api(w.member.token, 'POST', '/custom_fields', { workspace: w.org.gid, name: name.toUpperCase(), resource_subtype: 'number' });
    expect(dup.status).toBe(400);
    expect(messages(dup)[0]).toMatch(/^data\.name: .*already exists/);
    const elsewhere = await api(other.member.token, 'POST', '/custom_fields', { workspace: other.org.gid, name, resource_subtype: 'text' });
    expect(elsewhere.status).toBe(201);
    expect((await api(w.member.token, 'DELETE', `/custom_fields/${first.gid}`)).status).toBe(200);
    expect((await api(w.member.token, 'POST', '/custom_fields', { workspace: w.org.gid, name, resource_subtype: 'text' })).status).toBe(201);
  });

  test('PUT changes name, description and precision; the type never changes', async () => {
    const num = await createField({ resource_subtype: 'number', precision: 2 });
    const task = await api(w.member.token, 'POST', '/tasks', { name: 'Measured', projects: [await project(h, w.org.gid)], custom_fields: { [num.gid]: 2.71828 } });
    expect(task.body.data.custom_fields[0]).toMatchObject({ gid: num.gid, display_value: '2.72' });

    const name = uniqueName('Estimate');
    const updated = await api(w.member.token, 'PUT', `/custom_fields/${num.gid}`, { name, description: 'Hours', precision: 1 });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({ gid: num.gid, name, description: 'Hours', precision: 1, resource_subtype: 'number' });
    // Tasks show the definition as it is now.
    const seen = (await api(w.member.token, 'GET', `/tasks/${task.body.data.gid}`)).body.data.custom_fields[0];
    expect(seen).toMatchObject({ name, display_value: '2.7', number_value: 2.71828 });

    // Echoing the unchanged type is fine; changing it is not (either spelling).
    expect((await api(w.member.token, 'PUT', `/custom_fields/${num.gid}`, { resource_subtype: 'number', type: 'number', name })).status).toBe(200);
    const typeChange = await api(w.member.token, 'PUT', `/custom_fields/${num.gid}`, { resource_subtype: 'text' });
    expect(typeChange.status).toBe(400);
    expect(messages(typeChange)[0]).toMatch(/^data\.resource_subtype: the type of a custom field cannot be changed/);
    const legacy = await api(w.member.token, 'PUT', `/custom_fields/${num.gid}`, { type: 'enum', name: 'not applied' });
    expect(legacy.status).toBe(400);
    expect(messages(legacy)[0]).toMatch(/^data\.type:/);
    const unknownType = await api(w.member.token, 'PUT', `/custom_fields/${num.gid}`, { resource_subtype: 'formula' });
    expect(unknownType.status).toBe(400);
    expect(messages(unknownType)[0]).toMatch(/^data\.resource_subtype:/);

    const text = await createField({ resource_subtype: 'text' });
    const cases: [string, Record<string, unknown>, string][] = [
      [text.gid, { precision: 2 }, 'data.precision'],
      [num.gid, { precision: -1 }, 'data.precision'],
      [num.gid, { name: '' }, 'data.name'],
      [num.gid, { name: text.name }, 'data.name'],
      [num.gid, { enum_options: [] }, 'data.enum_options'],
      [num.gid, { workspace: other.org.gid }, 'data.workspace'],
    ];
    for (const [fieldGid, data, path] of cases) {
      const res = await api(w.member.token, 'PUT', `/custom_fields/${fieldGid}`, data);
      expect({ data, status: res.status, first: messages(res)[0]?.split(':')[0] }).toEqual({ data, status: 400, first: path });
    }
    const after = (await api(w.member.token, 'GET', `/custom_fields/${num.gid}`)).body.data;
    expect(after).toMatchObject({ name, resource_subtype: 'number', precision: 1 });
  });
});

describe('access', () => {
  test('guests see only fields of projects they can see, and cannot create or change any', async () => {
    const field = await createField({ resource_subtype: 'text' });
    const hidden = await createField({ resource_subtype: 'text' });
    expect((await api(w.guest.token, 'GET', `/custom_fields/${field.gid}`)).status).toBe(404);
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid, access: 'admin' }, { gid: w.guest.gid, access: 'editor' }] });
    expect((await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: field.gid })).status).toBe(200);

    expect((await api(w.guest.token, 'GET', `/custom_fields/${field.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/custom_fields/${hidden.gid}`)).status).toBe(404);
    const listed = await api(w.guest.token, 'GET', `/workspaces/${w.org.gid}/custom_fields?limit=100`);
    expect(gids(listed.body.data)).toEqual([field.gid]);
    const memberList = gids((await api(w.member.token, 'GET', `/workspaces/${w.org.gid}/custom_fields?limit=100`)).body.data);
    expect(memberList).toEqual(expect.arrayContaining([field.gid, hidden.gid]));

    const create = await api(w.guest.token, 'POST', '/custom_fields', { workspace: w.org.gid, name: uniqueName('Guest'), resource_subtype: 'text' });
    expect(create.status).toBe(403);
    expect((await api(w.guest.token, 'PUT', `/custom_fields/${field.gid}`, { name: 'Renamed by guest' })).status).toBe(403);
    expect((await api(w.guest.token, 'DELETE', `/custom_fields/${field.gid}`)).status).toBe(403);
    // Invisible stays 404 even for writes.
    expect((await api(w.guest.token, 'PUT', `/custom_fields/${hidden.gid}`, { name: 'x' })).status).toBe(404);
    expect((await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data.name).toBe(field.name);

    // A guest editor of the project may arrange its settings with fields they can see, not others.
    expect((await api(w.guest.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: hidden.gid })).status).toBe(404);
    expect((await api(w.guest.token, 'POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: field.gid })).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/custom_fields/${field.gid}`)).status).toBe(404);
  });

  test('guests cannot write task values of fields they cannot see (needs the writeCustomFields change)', async () => {
    const seen = await createField({ resource_subtype: 'text' });
    const hidden = await createField({ resource_subtype: 'text' });
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid, access: 'admin' }, { gid: w.guest.gid, access: 'editor' }] });
    expect((await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: seen.gid })).status).toBe(200);
    const task = await api(w.guest.token, 'POST', '/tasks', { name: 'Guest task', projects: [p], custom_fields: { [seen.gid]: 'mine' } });
    expect(task.status).toBe(201);
    expect(task.body.data.custom_fields).toEqual([expect.objectContaining({ gid: seen.gid, text_value: 'mine' })]);
    // Same answer as for a gid that does not exist: no way to learn that the field exists.
    const probe = await api(w.guest.token, 'PUT', `/tasks/${task.body.data.gid}`, { custom_fields: { [hidden.gid]: 'x' } });
    expect(probe.status).toBe(400);
    expect(messages(probe)).toEqual([`data.custom_fields.${hidden.gid}: no such custom field in this workspace`]);
    const values = await h.engine.db.selectFrom('task_custom_field_values').select('custom_field_gid').where('task_gid', '=', task.body.data.gid).execute();
    expect(values.map((v) => v.custom_field_gid)).toEqual([seen.gid]);
  });

  test('guests cannot change enum options of fields they see', async () => {
    const field = await enumField(['One', 'Two']);
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid, access: 'admin' }, { gid: w.guest.gid, access: 'editor' }] });
    expect((await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: field.gid })).status).toBe(200);
    expect((await api(w.guest.token, 'GET', `/custom_fields/${field.gid}`)).status).toBe(200);
    expect((await api(w.guest.token, 'POST', `/custom_fields/${field.gid}/enum_options`, { name: 'Three' })).status).toBe(403);
    expect((await api(w.guest.token, 'POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: field.enum_options[1].gid, before_enum_option: field.enum_options[0].gid })).status).toBe(403);
    expect((await api(w.guest.token, 'PUT', `/enum_options/${field.enum_options[0].gid}`, { name: 'Uno' })).status).toBe(403);
    expect(optionNames((await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data)).toEqual(['One', 'Two']);
  });

  test('members of another organization get 404 everywhere; anonymous callers 401', async () => {
    const field = await enumField(['X', 'Y']);
    const p = await project(h, w.org.gid);
    for (const [method, path, data] of [
      ['GET', `/custom_fields/${field.gid}`, undefined],
      ['PUT', `/custom_fields/${field.gid}`, { name: 'Stolen' }],
      ['DELETE', `/custom_fields/${field.gid}`, undefined],
      ['GET', `/workspaces/${w.org.gid}/custom_fields`, undefined],
      ['POST', '/custom_fields', { workspace: w.org.gid, name: 'Intruder', resource_subtype: 'text' }],
      ['POST', `/custom_fields/${field.gid}/enum_options`, { name: 'Z' }],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: field.enum_options[1].gid, before_enum_option: field.enum_options[0].gid }],
      ['PUT', `/enum_options/${field.enum_options[0].gid}`, { name: 'Stolen' }],
      ['GET', `/projects/${p}/custom_field_settings`, undefined],
      ['POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: field.gid }],
      ['POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: field.gid }],
    ] as const) {
      const res = await api(other.superAdmin.token, method, path, data);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      const anonymous = await api(undefined, method, path, data);
      expect({ method, path, status: anonymous.status }).toEqual({ method, path, status: 401 });
    }
    // A field of another organization cannot be put on our project either.
    const theirs = await api(other.member.token, 'POST', '/custom_fields', { workspace: other.org.gid, name: uniqueName('Theirs'), resource_subtype: 'text' });
    expect((await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: theirs.body.data.gid })).status).toBe(404);
    const after = (await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data;
    expect(after.name).toBe(field.name);
    expect(optionNames(after)).toEqual(['X', 'Y']);
  });
});

describe('listing', () => {
  test('a workspace\'s fields come by name then gid, in bounded keyset pages; compact unless opt_fields', async () => {
    const h2 = await identityHarness({ extraRoutes: customFieldRoutes });
    try {
      const org = await organizationWithRoles(h2, 'Listing');
      const names = ['Delta', 'alpha', 'Charlie', 'Bravo', 'Echo', 'Bravo 2', 'Foxtrot'];
      const made: Record<string, string> = {};
      for (const name of names) {
        const res = await h2.call({ path: '/api/1.0/custom_fields', token: org.member.token, body: { data: { workspace: org.org.gid, name, resource_subtype: name === 'Echo' ? 'enum' : 'text', ...(name === 'Echo' ? { enum_options: [{ name: 'e1' }] } : {}) } } });
        expect(res.status).toBe(201);
        made[name] = res.body.data.gid;
      }
      await h2.call({ method: 'DELETE', path: `/api/1.0/custom_fields/${made.Charlie}`, token: org.member.token });
      const items: any[] = [];
      let offset: string | undefined;
      let pages = 0;
      do {
        const res = await h2.call({ path: `/api/1.0/workspaces/${org.org.gid}/custom_fields?limit=2${offset ? `&offset=${offset}` : ''}`, token: org.member.token });
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        items.push(...res.body.data);
        offset = res.body.next_page?.offset;
        pages++;
      } while (offset && pages < 20);
      const expected = names.filter((n) => n !== 'Charlie').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(items.map((i) => i.name)).toEqual(expected);
      expect(pages).toBe(3);
      expect(Object.keys(items[0]).sort()).toEqual(['gid', 'name', 'representation_type', 'resource_subtype', 'resource_type', 'type']);
      expect(items.find((i) => i.name === 'Echo').enum_options.map((o: { name: string }) => o.name)).toEqual(['e1']);

      const full = await h2.call({ path: `/api/1.0/workspaces/${org.org.gid}/custom_fields?opt_fields=name,created_by,description`, token: org.member.token });
      expect(full.body.data[0]).toEqual({ gid: items[0].gid, resource_type: 'custom_field', name: items[0].name, description: '', created_by: { gid: org.member.gid, resource_type: 'user', name: org.member.name } });
      expect((await h2.call({ path: `/api/1.0/workspaces/${org.org.gid}/custom_fields?offset=garbage!`, token: org.member.token })).status).toBe(400);
    } finally {
      await h2.close();
    }
  });
});

describe('deletion', () => {
  test('a deleted field vanishes: from reads, lists, project settings and tasks\' custom_fields', async () => {
    const field = await enumField(['Open', 'Closed']);
    const keep = await createField({ resource_subtype: 'text' });
    const p = await project(h, w.org.gid);
    await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: field.gid });
    await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: keep.gid });
    const task = await api(w.member.token, 'POST', '/tasks', { name: 'Has values', projects: [p], custom_fields: { [field.gid]: field.enum_options[1].gid, [keep.gid]: 'kept' } });
    expect(task.status).toBe(201);
    expect(gids(task.body.data.custom_fields).sort()).toEqual([field.gid, keep.gid].sort());

    expect((await api(w.member.token, 'DELETE', `/custom_fields/${field.gid}`)).body).toEqual({ data: {} });
    expect((await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).status).toBe(404);
    expect((await api(w.member.token, 'DELETE', `/custom_fields/${field.gid}`)).status).toBe(404);
    expect((await api(w.member.token, 'PUT', `/enum_options/${field.enum_options[0].gid}`, { name: 'x' })).status).toBe(404);
    const after = (await api(w.member.token, 'GET', `/tasks/${task.body.data.gid}`)).body.data;
    expect(gids(after.custom_fields)).toEqual([keep.gid]);
    expect(after.custom_fields[0]).toMatchObject({ text_value: 'kept' });
    const listed = gids((await api(w.member.token, 'GET', `/workspaces/${w.org.gid}/custom_fields?limit=100`)).body.data);
    expect(listed).toContain(keep.gid);
    expect(listed).not.toContain(field.gid);
    expect((await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings`)).body.data.map((s: any) => s.custom_field.gid)).toEqual([keep.gid]);
    const write = await api(w.member.token, 'PUT', `/tasks/${task.body.data.gid}`, { custom_fields: { [field.gid]: field.enum_options[0].gid } });
    expect(write.status).toBe(400);
    expect(messages(write)[0]).toMatch(new RegExp(`^data\\.custom_fields\\.${field.gid}:`));
  });
});

describe('enum options', () => {
  test('are created at the end or before/after another option, and reordered with insert', async () => {
    const field = await enumField(['B', 'D']);
    const [b, d] = field.enum_options.map((o: { gid: string }) => o.gid);
    const e = await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options`, { name: 'E', color: 'blue' });
    expect(e.status).toBe(201);
    expect(e.body.data).toEqual({ gid: expect.any(String), resource_type: 'enum_option', name: 'E', enabled: true, color: 'blue' });
    const a = await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options`, { name: 'A', insert_before: b });
    const c = await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options`, { name: 'C', insert_after: b });
    expect([a.status, c.status]).toEqual([201, 201]);
    const read = async () => optionNames((await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data);
    expect(await read()).toEqual(['A', 'B', 'C', 'D', 'E']);

    const moved = await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: e.body.data.gid, before_enum_option: a.body.data.gid });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ gid: e.body.data.gid, name: 'E' });
    expect(await read()).toEqual(['E', 'A', 'B', 'C', 'D']);
    await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: a.body.data.gid, after_enum_option: d });
    expect(await read()).toEqual(['E', 'B', 'C', 'D', 'A']);
    // Many inserts at the same spot keep a strict order (positions are renumbered when the gap runs out).
    let anchor = c.body.data.gid as string;
    for (let i = 0; i < 60; i++) {
      const n = await api(w.member.token, 'POST', `/custom_fields/${field.gid}/enum_options`, { name: `n${i}`, insert_before: anchor });
      anchor = n.body.data.gid;
    }
    const crowded = await read();
    expect(crowded.slice(0, 2)).toEqual(['E', 'B']);
    expect(crowded.slice(2, 62)).toEqual(Array.from({ length: 60 }, (_, i) => `n${59 - i}`));
    expect(crowded.slice(62)).toEqual(['C', 'D', 'A']);
  });

  test('bad option requests are refused with field paths', async () => {
    const field = await enumField(['One', 'Two']);
    const otherField = await enumField(['Elsewhere']);
    const text = await createField({ resource_subtype: 'text' });
    const [one, two] = field.enum_options.map((o: { gid: string }) => o.gid);
    const foreign = otherField.enum_options[0].gid;
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', `/custom_fields/${field.gid}/enum_options`, {}, 'data.name'],
      ['POST', `/custom_fields/${field.gid}/enum_options`, { name: 'x', color: 'plaid' }, 'data.color'],
      ['POST', `/custom_fields/${field.gid}/enum_options`, { name: 'x', insert_before: foreign }, 'data.insert_before'],
      ['POST', `/custom_fields/${field.gid}/enum_options`, { name: 'x', insert_before: one, insert_after: two }, 'data'],
      ['POST', `/custom_fields/${text.gid}/enum_options`, { name: 'x' }, 'custom_field_gid'],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: one }, 'data'],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { before_enum_option: one }, 'data.enum_option'],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: foreign, before_enum_option: one }, 'data.enum_option'],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: one, after_enum_option: foreign }, 'data.after_enum_option'],
      ['POST', `/custom_fields/${field.gid}/enum_options/insert`, { enum_option: one, before_enum_option: one }, 'data.before_enum_option'],
      ['PUT', `/enum_options/${one}`, { name: '' }, 'data.name'],
      ['PUT', `/enum_options/${one}`, { enabled: 'no' }, 'data.enabled'],
    ];
    for (const [method, path, data, field_] of cases) {
      const res = await api(w.member.token, method, path, data);
      expect({ path, data, status: res.status, first: messages(res)[0]?.split(':')[0] }).toEqual({ path, data, status: 400, first: field_ });
    }
    expect(optionNames((await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data)).toEqual(['One', 'Two']);
    expect((await api(w.member.token, 'PUT', '/enum_options/123456789', { name: 'x' })).status).toBe(404);
  });

  test('PUT changes name, color and enabled; the last enabled option cannot be disabled', async () => {
    const field = await enumField(['Red', 'Green']);
    const [red, green] = field.enum_options.map((o: { gid: string }) => o.gid);
    const res = await api(w.member.token, 'PUT', `/enum_options/${red}`, { name: 'Crimson', color: 'magenta', enabled: false });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ gid: red, resource_type: 'enum_option', name: 'Crimson', color: 'magenta', enabled: false });
    const last = await api(w.member.token, 'PUT', `/enum_options/${green}`, { enabled: false });
    expect(last.status).toBe(400);
    expect(messages(last)[0]).toMatch(/^data\.enabled: an enum field needs at least one enabled option/);
    expect((await api(w.member.token, 'PUT', `/enum_options/${red}`, { enabled: true })).body.data.enabled).toBe(true);
    expect((await api(w.member.token, 'PUT', `/enum_options/${green}`, { enabled: false })).body.data.enabled).toBe(false);
    const options = (await api(w.member.token, 'GET', `/custom_fields/${field.gid}`)).body.data.enum_options;
    expect(options.map((o: { name: string; enabled: boolean }) => [o.name, o.enabled])).toEqual([
      ['Crimson', true],
      ['Green', false],
    ]);
  });

  test('a disabled option stays on the tasks that have it but cannot be newly chosen (needs the writeCustomFields change)', async () => {
    const field = await enumField(['Keep', 'Retire', 'Spare']);
    const multi = await enumField(['M1', 'M2', 'M3'], 'multi_enum');
    const [, retire, spare] = field.enum_options.map((o: { gid: string }) => o.gid);
    const [m1, m2] = multi.enum_options.map((o: { gid: string }) => o.gid);
    const p = await project(h, w.org.gid);
    const task = await api(w.member.token, 'POST', '/tasks', { name: 'Before', projects: [p], custom_fields: { [field.gid]: retire, [multi.gid]: [m1, m2] } });
    expect(task.status).toBe(201);
    await api(w.member.token, 'PUT', `/enum_options/${retire}`, { enabled: false });
    await api(w.member.token, 'PUT', `/enum_options/${m2}`, { enabled: false });

    const shown = (await api(w.member.token, 'GET', `/tasks/${task.body.data.gid}`)).body.data.custom_fields;
    const byGid = Object.fromEntries(shown.map((f: { gid: string }) => [f.gid, f]));
    expect(byGid[field.gid]).toMatchObject({ enum_value: { gid: retire, name: 'Retire', enabled: false }, display_value: 'Retire' });
    expect(byGid[multi.gid].multi_enum_values.map((o: { gid: string; enabled: boolean }) => [o.gid, o.enabled])).toEqual([
      [m1, true],
      [m2, false],
    ]);

    // Newly choosing a disabled option is refused, on a new task and on another task.
    const fresh = await api(w.member.token, 'POST', '/tasks', { name: 'After', projects: [p], custom_fields: { [field.gid]: retire } });
    expect(fresh.status).toBe(400);
    expect(messages(fresh)[0]).toMatch(new RegExp(`^data\\.custom_fields\\.${field.gid}: .*disabled`));
    const other = await api(w.member.token, 'POST', '/tasks', { name: 'Other', projects: [p] });
    const multiFresh = await api(w.member.token, 'PUT', `/tasks/${other.body.data.gid}`, { custom_fields: { [multi.gid]: [m2] } });
    expect(multiFresh.status).toBe(400);
    expect(messages(multiFresh)[0]).toMatch(new RegExp(`^data\\.custom_fields\\.${multi.gid}: .*disabled`));
    // A task that already has it may keep it when its values are written back.
    const rewrite = await api(w.member.token, 'PUT', `/tasks/${task.body.data.gid}`, { custom_fields: { [field.gid]: retire, [multi.gid]: [m2, m1] } });
    expect(rewrite.status).toBe(200);
    // Moving away from it works; moving back does not.
    expect((await api(w.member.token, 'PUT', `/tasks/${task.body.data.gid}`, { custom_fields: { [field.gid]: spare } })).status).toBe(200);
    expect((await api(w.member.token, 'PUT', `/tasks/${task.body.data.gid}`, { custom_fields: { [field.gid]: retire } })).status).toBe(400);
  });
});

describe('project custom field settings', () => {
  test('are added in order (end, insert_before, insert_after), listed, and removed', async () => {
    const p = await project(h, w.org.gid);
    const [f1, f2, f3, f4] = [await createField({ resource_subtype: 'text' }), await createField({ resource_subtype: 'number', precision: 4 }), await enumField(['x']), await createField({ resource_subtype: 'date' })];
    const before = await h.engine.db.selectFrom('projects').select('modified_at').where('gid', '=', p).executeTakeFirstOrThrow();
    h.clock.advance(1000);
    const s1 = await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f1.gid, is_important: true });
    expect(s1.status).toBe(200);
    const projectName = (await h.engine.db.selectFrom('projects').select('name').where('gid', '=', p).executeTakeFirstOrThrow()).name;
    const projectRef = { gid: p, resource_type: 'project', name: projectName };
    expect(s1.body.data).toEqual({
      gid: expect.stringMatching(/^\d+$/),
      resource_type: 'custom_field_setting',
      custom_field: { gid: f1.gid, resource_type: 'custom_field', name: f1.name, resource_subtype: 'text', type: 'text', representation_type: 'text' },
      project: projectRef,
      parent: projectRef,
      is_important: true,
    });
    const after = await h.engine.db.selectFrom('projects').select('modified_at').where('gid', '=', p).executeTakeFirstOrThrow();
    expect(after.modified_at.getTime()).toBeGreaterThan(before.modified_at.getTime());

    const s2 = await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f2.gid, insert_before: s1.body.data.gid });
    expect(s2.body.data.is_important).toBe(false);
    // An anchor may also be named by its custom field's gid.
    await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f3.gid, insert_after: f2.gid });
    await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f4.gid });
    const order = async (query = '') => (await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings${query}`)).body.data.map((s: any) => s.custom_field.gid);
    expect(await order()).toEqual([f2.gid, f3.gid, f1.gid, f4.gid]);
    const page = await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings?limit=3`);
    expect(page.body.data).toHaveLength(3);
    const rest = await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings?limit=3&offset=${page.body.next_page.offset}`);
    expect(rest.body.data.map((s: any) => s.custom_field.gid)).toEqual([f4.gid]);
    expect(rest.body.next_page).toBeNull();
    const full = await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings?opt_fields=custom_field.precision,custom_field.name,is_important`);
    expect(full.body.data[0]).toEqual({ gid: s2.body.data.gid, resource_type: 'custom_field_setting', custom_field: { gid: f2.gid, resource_type: 'custom_field', name: f2.name, precision: 4 }, is_important: false });

    expect((await api(w.member.token, 'POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: f3.gid })).body).toEqual({ data: {} });
    expect(await order()).toEqual([f2.gid, f1.gid, f4.gid]);
    const again = await api(w.member.token, 'POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: f3.gid });
    expect(again.status).toBe(400);
    expect(messages(again)[0]).toMatch(/^data\.custom_field: /);
  });

  test('bad setting requests are refused with field paths', async () => {
    const p = await project(h, w.org.gid);
    const f = await createField({ resource_subtype: 'text' });
    const g = await createField({ resource_subtype: 'text' });
    await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f.gid });
    const otherProject = await project(h, w.org.gid);
    await api(w.member.token, 'POST', `/projects/${otherProject}/addCustomFieldSetting`, { custom_field: g.gid });
    const foreignSetting = (await api(w.member.token, 'GET', `/projects/${otherProject}/custom_field_settings`)).body.data[0].gid;
    const cases: [string, Record<string, unknown>, string][] = [
      ['addCustomFieldSetting', {}, 'data.custom_field'],
      ['addCustomFieldSetting', { custom_field: f.gid }, 'data.custom_field'],
      ['addCustomFieldSetting', { custom_field: g.gid, insert_before: foreignSetting }, 'data.insert_before'],
      ['addCustomFieldSetting', { custom_field: g.gid, insert_before: f.gid, insert_after: f.gid }, 'data'],
      ['addCustomFieldSetting', { custom_field: g.gid, is_important: 'yes' }, 'data.is_important'],
      ['removeCustomFieldSetting', { custom_field: 'abc' }, 'data.custom_field'],
    ];
    for (const [verb, data, path] of cases) {
      const res = await api(w.member.token, 'POST', `/projects/${p}/${verb}`, data);
      expect({ verb, data, status: res.status, first: messages(res)[0]?.split(':')[0] }).toEqual({ verb, data, status: 400, first: path });
    }
    expect((await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings`)).body.data.map((s: any) => s.custom_field.gid)).toEqual([f.gid]);
  });

  test('need edit rights on the project (403), and project visibility (404)', async () => {
    const commenter = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const outsider = await person(h, { organizationGid: w.org.gid, role: 'member' });
    const p = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.member.gid, access: 'admin' }, { gid: commenter.gid, access: 'commenter' }] });
    const f = await createField({ resource_subtype: 'text' });
    expect((await api(commenter.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f.gid })).status).toBe(403);
    expect((await api(outsider.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f.gid })).status).toBe(404);
    expect((await api(outsider.token, 'GET', `/projects/${p}/custom_field_settings`)).status).toBe(404);
    expect((await api(w.admin.token, 'GET', `/projects/${p}/custom_field_settings`)).status).toBe(404);
    expect((await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: f.gid })).status).toBe(200);
    expect((await api(commenter.token, 'GET', `/projects/${p}/custom_field_settings`)).body.data.map((s: any) => s.custom_field.gid)).toEqual([f.gid]);
    expect((await api(commenter.token, 'POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: f.gid })).status).toBe(403);
    expect((await api(outsider.token, 'POST', `/projects/${p}/removeCustomFieldSetting`, { custom_field: f.gid })).status).toBe(404);
    expect((await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings`)).body.data).toHaveLength(1);
  });

  test('a new custom field can be created inline, in the project\'s workspace', async () => {
    const p = await project(h, w.org.gid);
    const name = uniqueName('Inline');
    const res = await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: { name, resource_subtype: 'enum', enum_options: [{ name: 'Yes' }, { name: 'No' }] } });
    expect(res.status).toBe(200);
    expect(res.body.data.custom_field).toMatchObject({ name, resource_subtype: 'enum' });
    expect(optionNames(res.body.data.custom_field)).toEqual(['Yes', 'No']);
    const wrongOrg = await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: { name: uniqueName('Inline'), resource_subtype: 'text', workspace: other.org.gid } });
    expect(wrongOrg.status).toBe(400);
    expect(messages(wrongOrg)[0]).toMatch(/^data\.custom_field\.workspace: /);
    const dupName = await api(w.member.token, 'POST', `/projects/${p}/addCustomFieldSetting`, { custom_field: { name, resource_subtype: 'text' } });
    expect(dupName.status).toBe(400);
    expect(messages(dupName)[0]).toMatch(/^data\.custom_field\.name: /);
    const guestProject = await project(h, w.org.gid, { privacy: 'private', members: [{ gid: w.guest.gid, access: 'editor' }] });
    expect((await api(w.guest.token, 'POST', `/projects/${guestProject}/addCustomFieldSetting`, { custom_field: { name: uniqueName('Guest'), resource_subtype: 'text' } })).status).toBe(403);
    expect((await api(w.member.token, 'GET', `/projects/${p}/custom_field_settings`)).body.data).toHaveLength(1);
  });
});

test('the OpenAPI document with these routes is valid and names Asana\'s operations', async () => {
  const doc = buildOpenApi([...routes, ...customFieldRoutes], { title: 't', version: '1', description: 'd', serverUrl: '/api/1.0' }) as any;
  const result = await new Validator().validate(doc);
  expect(result.errors).toBeUndefined();
  const operationIds = Object.values(doc.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId));
  for (const id of ['createCustomField', 'getCustomField', 'updateCustomField', 'deleteCustomField', 'getCustomFieldsForWorkspace', 'createEnumOptionForCustomField', 'insertEnumOptionForCustomField', 'updateEnumOption', 'getCustomFieldSettingsForProject', 'addCustomFieldSettingForProject', 'removeCustomFieldSettingForProject']) {
    expect(operationIds.filter((o) => o === id)).toEqual([id]);
  }
});
