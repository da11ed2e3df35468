/**
 * A second baseline for the export's time: the engine writing the same document.
 *
 * engineRun (export.ts) times the engine dumping the organization's tables as flat
 * `row_to_json` rows, as issue #7 describes. The export writes something else: each task
 * joined with its people, projects, sections, teams, tags, followers, likes and custom
 * field values, shaped as the API shows it. Here the engine writes that: the tasks and
 * comments as the export's text, byte for byte (each task's lists aggregated set-based
 * over a chunk's range of gids), and every other table as flat rows as engineRun does.
 * The harness compares the two on every run (items and bytes; with --check-document a
 * digest of every item too), and test/bench/engine-document.test.ts compares them on an
 * organization with deleted rows, another organization, several projects and teams per
 * task, every kind of custom field value and hostile text, in several chunks. They can
 * differ in numbers: a number field's display value (PostgreSQL rounds the decimal,
 * Number.toFixed the binary double, e.g. 1.005 to two places) and number values outside
 * 1e-4..1e15 (float8 text writes 1e+15 where JavaScript writes 1000000000000000); the
 * benchmark's numbers are quarters under 1,000, the same in both.
 *
 * This is a measurement, not a way to export: the organization export renders in the
 * worker (README, Performance, on why the database does not).
 */
import { RESTORE_DAYS } from '../lambdas/domain/work/tasks.js';
import { ENGINE_CHUNK, ENGINE_TABLES, engineQuery, engineTable, tally, type DatasetRef, type DocumentTally, type EngineQuery } from './export.js';

/** A JSON string of a text expression (`null` for NULL). */
const str = (expr: string) => `coalesce(to_json(${expr})::text, 'null')`;
/** An instant as Date.toISOString writes it. */
const instant = (expr: string) => `coalesce('"' || to_char(${expr} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"', 'null')`;
/** A calendar date as 'YYYY-MM-DD'. */
const day = (expr: string) => `coalesce('"' || to_char(${expr}, 'YYYY-MM-DD') || '"', 'null')`;
/** {gid, resource_type, name} of the row `alias`, or `null`. */
const compact = (type: string, alias: string) => `coalesce('{"gid":' || to_json(${alias}.gid)::text || ',"resource_type":"${type}","name":' || to_json(${alias}.name)::text || '}', 'null')`;
const taskCompact = (alias: string) =>
  `coalesce('{"gid":' || to_json(${alias}.gid)::text || ',"resource_type":"task","name":' || to_json(${alias}.name)::text || ',"resource_subtype":' || to_json(${alias}.resource_subtype)::text || '}', 'null')`;
const enumOption = (alias: string) =>
  `coalesce('{"gid":' || to_json(${alias}.gid)::text || ',"resource_type":"enum_option","name":' || to_json(${alias}.name)::text || ',"enabled":' || ${alias}.enabled::text || ',"color":' || to_json(coalesce(${alias}.color, 'none'))::text || '}', 'null')`;
/** Items joined by commas in an order ('' for none). */
const list = (item: string, order: string) => `coalesce(string_agg(${item}, ',' order by ${order}), '')`;
/** Alive, or deleted at or after the cutoff ($2, the export's rule: RESTORE_DAYS before it ran). */
const kept = (alias: string) => `(${alias}.deleted_at is null or ${alias}.deleted_at >= $2)`;
/** Relation rows of the chunk's tasks: its range of gids (then joined to the chunk). */
const inChunk = (column: string) => `${column} between (select min(gid) from chunk) and (select max(gid) from chunk)`;

const customFieldValue = `'{"gid":' || to_json(f.gid)::text || ',"resource_type":"custom_field","name":' || to_json(f.name)::text || ',"resource_subtype":' || to_json(f.resource_subtype)::text || ',"type":' || to_json(f.resource_subtype)::text || case f.resource_subtype
    when 'text' then ',"text_value":' || ${str('v.text_value')} || ',"display_value":' || ${str('v.text_value')}
    when 'number' then ',"precision":' || coalesce(f.precision, 0)::text || ',"number_value":' || coalesce((v.number_value)::float8::text, 'null') || ',"display_value":' || coalesce('"' || round(v.number_value, coalesce(f.precision, 0))::text || '"', 'null')
    when 'date' then ',"date_value":' || coalesce('{"date":"' || to_char(v.date_value, 'YYYY-MM-DD') || '","date_time":null}', 'null') || ',"display_value":' || ${day('v.date_value')}
    when 'enum' then ',"enum_value":' || ${enumOption('e')} || ',"display_value":' || ${str('e.name')}
    when 'multi_enum' then (select ',"multi_enum_values":[' || ${list(enumOption('mo'), 'array_position(mx.gids, mo.gid)')} || '],"display_value":' || ${str("string_agg(mo.name, ', ' order by array_position(mx.gids, mo.gid))")}
      from (select array(select jsonb_array_elements_text(coalesce(v.multi_values, '[]'::jsonb))) as gids) mx join custom_field_enum_options mo on mo.gid = any(mx.gids))
    else (select ',"people_value":[' || ${list(compact('user', 'mu'), 'array_position(mx.gids, mu.gid)')} || '],"display_value":' || ${str("string_agg(mu.name, ', ' order by array_position(mx.gids, mu.gid))")}
      from (select array(select jsonb_array_elements_text(coalesce(v.multi_values, '[]'::jsonb))) as gids) mx join users mu on mu.gid = any(mx.gids))
  end || '}'`;

/**
 * One chunk of tasks after the cursor ($5, when given), as the export writes them, in no
 * particular order; every row carries the chunk's last gid (the next cursor). $1 the
 * organization, $2 the cutoff for deleted rows, $3 the permalink prefix, $4 the
 * workspace's compact JSON. Every read is
 * bounded by the chunk's range of gids (the tasks' too: joined back by key alone, they
 * would be read from the start of the index for every chunk).
 */
function taskChunkSql(first: boolean, size: number): string {
  return `with chunk as materialized (
      select t.gid from tasks t where t.organization_gid = $1 and ${kept('t')}${first ? '' : ' and t.gid > $5'} order by t.gid limit ${size}),
    pl as (select x.task_gid, ${list('x.pj', 'x.added_at, x.project_gid')} as projects,
        ${list(`'{"project":' || x.pj || ',"section":' || x.sj || '}'`, 'x.added_at, x.project_gid')} as memberships,
        coalesce(string_agg(x.tj, ',' order by x.added_at, x.project_gid) filter (where x.first_of_team), '') as teams
      from (select tp.task_gid, tp.added_at, tp.project_gid, ${compact('project', 'pr')} as pj, ${compact('section', 'se')} as sj, ${compact('team', 'tm')} as tj,
          tm.gid is not null and row_number() over (partition by tp.task_gid, tm.gid order by tp.added_at, tp.project_gid) = 1 as first_of_team
        from task_projects tp join projects pr on pr.gid = tp.project_gid and pr.organization_gid = $1
          left join sections se on se.gid = tp.section_gid left join teams tm on tm.gid = pr.team_gid
        where ${inChunk('tp.task_gid')}) x group by x.task_gid),
    tg as (select tt.task_gid, ${list(compact('tag', 'g'), 'tt.added_at, tt.tag_gid')} as items
      from task_tags tt join tags g on g.gid = tt.tag_gid and g.organization_gid = $1 and ${kept('g')} where ${inChunk('tt.task_gid')} group by tt.task_gid),
    fo as (select f.task_gid, ${list(compact('user', 'u'), 'f.created_at, f.user_gid')} as items
      from task_followers f join users u on u.gid = f.user_gid where ${inChunk('f.task_gid')} group by f.task_gid),
    lk as (select l.task_gid, count(*) as n, ${list(`'{"gid":' || to_json(u.gid)::text || ',"user":' || ${compact('user', 'u')} || '}'`, 'l.created_at, l.user_gid')} as items
      from task_likes l join users u on u.gid = l.user_gid where ${inChunk('l.task_gid')} group by l.task_gid),
    cf as (select v.task_gid, ${list(customFieldValue, 'f.gid')} as items
      from task_custom_field_values v join custom_fields f on f.gid = v.custom_field_gid and f.organization_gid = $1 and ${kept('f')}
        left join custom_field_enum_options e on e.gid = v.enum_option_gid
      where ${inChunk('v.task_gid')} group by v.task_gid),
    sc as (select st.parent_gid, count(*) as n from tasks st where st.deleted_at is null and ${inChunk('st.parent_gid')} group by st.parent_gid)
  select (select max(gid) from chunk) as last, '{"gid":' || to_json(t.gid)::text || ',"resource_type":"task","name":' || to_json(t.name)::text || ',"resource_subtype":' || to_json(t.resource_subtype)::text
    || ',"notes":' || to_json(t.notes)::text || ',"completed":' || t.completed::text || ',"completed_at":' || ${instant('t.completed_at')}
    || ',"assignee":' || ${compact('user', 'a')} || ',"assignee_status":' || to_json(t.assignee_status)::text
    || ',"due_on":' || ${day('t.due_on')} || ',"start_on":' || ${day('t.start_on')} || ',"created_at":' || ${instant('t.created_at')}
    || ',"created_by":' || ${compact('user', 'c')} || ',"modified_at":' || ${instant('t.modified_at')} || ',"deleted_at":' || ${instant('t.deleted_at')}
    || ',"parent":' || ${taskCompact('par')} || ',"num_subtasks":' || coalesce(sc.n, 0)::text || ',"workspace":' || $4::text
    || ',"projects":[' || coalesce(pl.projects, '') || '],"memberships":[' || coalesce(pl.memberships, '') || '],"teams":[' || coalesce(pl.teams, '') || ']'
    || ',"tags":[' || coalesce(tg.items, '') || '],"followers":[' || coalesce(fo.items, '') || '],"likes":[' || coalesce(lk.items, '') || '],"num_likes":' || coalesce(lk.n, 0)::text
    || ',"custom_fields":[' || coalesce(cf.items, '') || '],"permalink_url":' || to_json($3::text || t.gid)::text || '}' as j
  from chunk k join tasks t on t.gid = k.gid and ${inChunk('t.gid')}
    left join users a on a.gid = t.assignee_gid left join users c on c.gid = t.created_by left join tasks par on par.gid = t.parent_gid
    left join pl on pl.task_gid = t.gid left join tg on tg.task_gid = t.gid left join fo on fo.task_gid = t.gid
    left join lk on lk.task_gid = t.gid left join cf on cf.task_gid = t.gid left join sc on sc.parent_gid = t.gid`;
}

/**
 * One chunk of comments after the cursor ($3-$5: task, created_at as text, gid; $2 the
 * cutoff for deleted rows), as the export
 * writes them, in no particular order (a chunk's text is what is timed); every row
 * carries the chunk's last key, the next cursor. The chunk's rows are read once, with
 * everything the text needs, and never joined back to their tables by key: that would
 * read the tables' indexes from the start for every chunk.
 */
function storyChunkSql(first: boolean, size: number): string {
  return `with chunk as materialized (
      select s.gid, s.task_gid, s.created_at, s.resource_subtype, s.text, s.is_pinned, s.edited_at, s.modified_at, s.deleted_at, s.created_by,
        t.name as task_name, t.resource_subtype as task_subtype
      from stories s join tasks t on t.gid = s.task_gid
      where t.organization_gid = $1 and ${kept('t')} and ${kept('s')}${first ? '' : ' and (s.task_gid, s.created_at, s.gid) > ($3, $4, $5) and t.gid >= $3'}
      order by s.task_gid, s.created_at, s.gid limit ${size}),
    lk as (select l.story_gid, count(*) as n, ${list(`'{"gid":' || to_json(u.gid)::text || ',"user":' || ${compact('user', 'u')} || '}'`, 'l.created_at, l.user_gid')} as items
      from story_likes l join users u on u.gid = l.user_gid where l.story_gid in (select gid from chunk) group by l.story_gid)
  select last.task_gid, last.created_at::text as created_at, last.gid, '{"gid":' || to_json(s.gid)::text || ',"resource_type":"story","resource_subtype":' || to_json(s.resource_subtype)::text || ',"type":"comment","text":' || to_json(s.text)::text
    || ',"is_pinned":' || s.is_pinned::text || ',"is_edited":' || (s.edited_at is not null)::text || ',"created_at":' || ${instant('s.created_at')}
    || ',"created_by":' || ${compact('user', 'u')} || ',"modified_at":' || ${instant('s.modified_at')} || ',"deleted_at":' || ${instant('s.deleted_at')}
    || ',"target":{"gid":' || to_json(s.task_gid)::text || ',"resource_type":"task","name":' || to_json(s.task_name)::text || ',"resource_subtype":' || to_json(s.task_subtype)::text || '}'
    || ',"likes":[' || coalesce(lk.items, '') || '],"num_likes":' || coalesce(lk.n, 0)::text || '}' as j
  from chunk s cross join (select task_gid, created_at, gid from chunk order by task_gid desc, created_at desc, gid desc limit 1) last
    left join users u on u.gid = s.created_by left join lk on lk.story_gid = s.gid`;
}

/**
 * Why the engine's tasks and comments are not the export's (items, bytes, digests), or
 * null when they are the same. A digest on one side only is a difference: both sides
 * compute one, or neither.
 */
export function documentMismatch(exported: Record<'tasks' | 'stories', DocumentTally>, engine: Record<'tasks' | 'stories', DocumentTally>): string | null {
  for (const part of ['tasks', 'stories'] as const) {
    const [ours, theirs] = [exported[part], engine[part]];
    if (ours.items !== theirs.items || ours.bytes !== theirs.bytes || ours.digest !== theirs.digest) {
      return `the engine's ${part} are not the export's: ${JSON.stringify(theirs)} against ${JSON.stringify(ours)}`;
    }
  }
  return null;
}

/** Tables the documents above already hold (the tasks' and comments' lists). */
const IN_DOCUMENTS = new Set(['tasks', 'task_projects', 'task_tags', 'task_followers', 'task_likes', 'task_custom_field_values', 'stories', 'story_likes']);

export interface EngineDocumentFigures {
  seconds: number;
  /** Seconds for the tasks, the comments and the other tables. */
  parts: { tasks: number; stories: number; tables: number };
  statements: number;
  tasks: DocumentTally;
  stories: DocumentTally;
  /** Flat rows of the other tables. */
  rows: number;
}

/** The tasks and comments of an organization as the export writes them, tallied (a digest too when asked for). */
export interface WrittenDocument {
  tasks: DocumentTally;
  stories: DocumentTally;
  statements: number;
  /** Seconds for the tasks and for the comments. */
  seconds: { tasks: number; stories: number };
}

/**
 * The engine writes the organization's tasks and comments as the export does, in chunks
 * of `chunk` rows; `cutoff` is the export's for deleted rows (RESTORE_DAYS before it ran).
 */
export async function writeDocument(
  query: EngineQuery,
  options: { organizationGid: string; baseUrl: string; cutoff: Date; chunk?: number; digest?: boolean },
  onItems: (part: 'tasks' | 'stories', items: string[]) => void = () => {},
): Promise<WrittenDocument> {
  const { organizationGid: org, cutoff } = options;
  const size = options.chunk ?? ENGINE_CHUNK;
  const digest = options.digest ?? false;
  const [workspace] = await query(`select json_build_object('gid', gid, 'resource_type', 'workspace', 'name', name)::text as j from organizations where gid = $1`, [org]);
  // json_build_object writes ' : ' between key and value; the export writes JSON.stringify's form.
  const workspaceJson = JSON.stringify(JSON.parse(workspace!.j as string));
  const tasks: DocumentTally = { items: 0, bytes: 0 };
  const stories: DocumentTally = { items: 0, bytes: 0 };
  let statements = 0;
  const started = performance.now();
  for (let after: string | null = null; ; ) {
    const chunk = await query(taskChunkSql(after === null, size), [org, cutoff, `${options.baseUrl}/api/1.0/tasks/`, workspaceJson, ...(after === null ? [] : [after])]);
    statements += 1;
    const items = chunk.map((r) => r.j as string);
    tally(tasks, items, digest);
    onItems('tasks', items);
    if (chunk.length < size) break;
    after = chunk[0]!.last as string;
  }
  const tasksDone = performance.now();
  for (let after: unknown[] | null = null; ; ) {
    const chunk = await query(storyChunkSql(after === null, size), [org, cutoff, ...(after ?? [])]);
    statements += 1;
    const items = chunk.map((r) => r.j as string);
    tally(stories, items, digest);
    onItems('stories', items);
    if (chunk.length < size) break;
    const end = chunk[0]!;
    after = [end.task_gid, end.created_at, end.gid];
  }
  return { tasks, stories, statements, seconds: { tasks: (tasksDone - started) / 1000, stories: (performance.now() - tasksDone) / 1000 } };
}

/** The engine writes the tasks and comments as the export does, and the other tables as flat JSON rows. */
export async function engineDocumentRun(input: { dataset: DatasetRef; baseUrl: string; digest?: boolean }): Promise<EngineDocumentFigures> {
  const { query, close } = await engineQuery(input.dataset);
  try {
    const org = input.dataset.organization.organizationGid;
    const cutoff = new Date(Date.now() - RESTORE_DAYS * 86_400_000);
    let rows = 0;
    const started = performance.now();
    const document = await writeDocument(query, { organizationGid: org, baseUrl: input.baseUrl, cutoff, digest: input.digest ?? false });
    let statements = document.statements;
    const tablesStarted = performance.now();
    for (const spec of ENGINE_TABLES.filter((t) => !IN_DOCUMENTS.has(t.table))) {
      const table = await engineTable(query, spec, org);
      statements += table.statements;
      rows += table.rows;
    }
    const done = performance.now();
    return {
      seconds: (done - started) / 1000,
      parts: { ...document.seconds, tables: (done - tablesStarted) / 1000 },
      statements,
      tasks: document.tasks,
      stories: document.stories,
      rows,
    };
  } finally {
    await close();
  }
}
