/**
 * A synthetic organization of N tasks, written with set-based SQL (insert ... select from
 * generate_series) straight into the tables of lambdas/db/migrations, fast enough for a
 * million tasks. Everything else grows in proportion to N:
 *
 *   users           N/200 (20..5,000), each a member; user 0 is the super admin, 1 an admin
 *   teams           N/20,000 (at least 2), every user in one
 *   projects        N/500 (at least 5), 4 sections and a status update each
 *   tags            N/2,000 (at least 10); 6 custom fields (text, number, enum, multi_enum, date, people)
 *   tasks           N: every 10th a subtask of the task before it (task_ancestors rows for both),
 *                   the others in one project and section; 70% assigned, 25% completed
 *   followers       2 per task; likes on every 5th task; a tag on every 2nd task
 *   field values    2 per task (text, plus one of the five other kinds)
 *   comments        1.5 per task (stories), likes on every 10th comment
 *   attachments     every 20th task (metadata only)
 *   messages        N/5,000 (at least 5), half with a reply; 2 project and 2 task templates;
 *                   a pending invitation
 *
 * Gids are 16-digit decimal strings like the real ones (a fixed permutation of the row
 * number per table, so they are scattered, not sequential, and never collide).
 */

export interface Sizes {
  tasks: number;
  users: number;
  teams: number;
  projects: number;
  sectionsPerProject: number;
  tags: number;
  messages: number;
}

export function sizesFor(tasks: number): Sizes {
  return {
    tasks,
    users: Math.min(5000, Math.max(20, Math.round(tasks / 200))),
    teams: Math.max(2, Math.ceil(tasks / 20_000)),
    projects: Math.max(5, Math.ceil(tasks / 500)),
    sectionsPerProject: 4,
    tags: Math.max(10, Math.ceil(tasks / 2000)),
    messages: Math.max(5, Math.ceil(tasks / 5000)),
  };
}

/** Table numbers for the gid permutation. */
const T = {
  org: 1,
  user: 2,
  membership: 3,
  team: 4,
  teamMembership: 5,
  project: 6,
  projectMembership: 7,
  section: 8,
  status: 9,
  tag: 10,
  field: 11,
  option: 12,
  task: 13,
  story: 14,
  attachment: 15,
  message: 16,
  projectTemplate: 17,
  taskTemplate: 18,
} as const;

const GID_BASE = 1_000_000_000_000_000n;
const GID_SPAN = 7_000_000_000_000_000n;
const GID_MULTIPLIER = 5_700_357_409_661_599n; // coprime with the span: a permutation of it

/** The gid of row `i` of a table, in JavaScript. */
export function gidOf(table: keyof typeof T, i: number): string {
  return String(GID_BASE + ((BigInt(i) + BigInt(T[table]) * 1_000_000_000n) * GID_MULTIPLIER) % GID_SPAN);
}

/** The same gid as a SQL expression of an integer expression. */
function gid(table: keyof typeof T, i: string): string {
  return `(${GID_BASE} + ((((${i})::numeric + ${BigInt(T[table]) * 1_000_000_000n}) * ${GID_MULTIPLIER}) % ${GID_SPAN}))::bigint::text`;
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface GeneratedOrganization {
  organizationGid: string;
  /** The super admin (requests the export). */
  adminGid: string;
  adminEmail: string;
  /** A project with at least 100 top-level tasks. */
  projectGid: string;
  /** A top-level task with a subtask, followers, tags and values. */
  taskGid: string;
  sizes: Sizes;
  /** Rows written per table. */
  rows: Record<string, number>;
}

/**
 * The statements that build the organization, in order (each one statement, so they run
 * on any engine). `passwordHash` is given to every user (API benchmarks log in with it).
 */
export function organizationSql(tasks: number, options: { passwordHash?: string; now?: Date } = {}): { statements: string[]; organization: GeneratedOrganization } {
  const s = sizesFor(tasks);
  const now = options.now ?? new Date();
  // Created over the past year, a millisecond per task apart; nothing in the future.
  const base = lit(new Date(now.getTime() - 365 * 86_400_000).toISOString());
  const at = (ms: string) => `(${base}::timestamptz + (${ms}) * interval '1 millisecond')`;
  const org = gidOf('org', 0);
  const N = s.tasks;
  const U = s.users;
  const P = s.projects;
  const SP = s.sectionsPerProject;
  const hash = options.passwordHash ? lit(options.passwordHash) : 'null';
  const topLevel = `(i % 10 <> 9)`;
  const statements = [
    `insert into organizations (gid, name, plan, created_at, modified_at) values (${lit(org)}, ${lit(`Bench org ${N}`)}, 'paid', ${at('0')}, ${at('0')})`,
    `insert into users (gid, email, name, password_hash, password_changed_at, created_at, modified_at)
       select ${gid('user', 'i')}, 'user' || i || '@bench.test', 'User ' || i, ${hash}, ${at('0')}, ${at('i')}, ${at('i')} from generate_series(0, ${U - 1}) i`,
    `insert into organization_memberships (gid, organization_gid, user_gid, role, created_at)
       select ${gid('membership', 'i')}, ${lit(org)}, ${gid('user', 'i')}, case i when 0 then 'super_admin' when 1 then 'admin' else 'member' end, ${at('i')} from generate_series(0, ${U - 1}) i`,
    `insert into teams (gid, organization_gid, name, description, visibility, created_by, created_at, modified_at)
       select ${gid('team', 'i')}, ${lit(org)}, 'Team ' || i, 'The team number ' || i, case when i % 5 = 4 then 'secret' else 'public' end, ${gid('user', '0')}, ${at('i')}, ${at('i')} from generate_series(0, ${s.teams - 1}) i`,
    `insert into team_memberships (gid, team_gid, user_gid, is_admin, created_at)
       select ${gid('teamMembership', 'i')}, ${gid('team', `i % ${s.teams}`)}, ${gid('user', 'i')}, i < ${s.teams}, ${at('i')} from generate_series(0, ${U - 1}) i`,
    `insert into projects (gid, organization_gid, team_gid, name, notes, color, owner_gid, privacy_setting, created_by, created_at, modified_at)
       select ${gid('project', 'p')}, ${lit(org)}, ${gid('team', `p % ${s.teams}`)}, 'Project ' || p, 'What project ' || p || ' is about.', 'light-green',
              ${gid('user', `p % ${U}`)}, case when p % 7 = 6 then 'private' else 'public_to_workspace' end, ${gid('user', `p % ${U}`)}, ${at('p')}, ${at('p')}
       from generate_series(0, ${P - 1}) p`,
    `insert into project_memberships (gid, project_gid, user_gid, access_level, created_at)
       select ${gid('projectMembership', 'p')}, ${gid('project', 'p')}, ${gid('user', `p % ${U}`)}, 'admin', ${at('p')} from generate_series(0, ${P - 1}) p`,
    `insert into sections (gid, project_gid, name, position, created_at)
       select ${gid('section', 'k')}, ${gid('project', `k / ${SP}`)}, 'Section ' || (k % ${SP}), k % ${SP}, ${at('k')} from generate_series(0, ${P * SP - 1}) k`,
    `insert into project_statuses (gid, project_gid, title, text, status_type, author_gid, created_at, modified_at)
       select ${gid('status', 'p')}, ${gid('project', 'p')}, 'Week ' || p, 'On track, nothing blocking.', 'on_track', ${gid('user', `p % ${U}`)}, ${at('p')}, ${at('p')} from generate_series(0, ${P - 1}) p`,
    `insert into tags (gid, organization_gid, name, color, notes, created_by, created_at)
       select ${gid('tag', 'g')}, ${lit(org)}, 'tag-' || g, 'dark-blue', '', ${gid('user', '0')}, ${at('g')} from generate_series(0, ${s.tags - 1}) g`,
    `insert into custom_fields (gid, organization_gid, name, resource_subtype, precision, created_by, created_at)
       select ${gid('field', 'f')}, ${lit(org)}, (array['Notes', 'Estimate', 'Priority', 'Labels', 'Deadline', 'Reviewers'])[f + 1],
              (array['text', 'number', 'enum', 'multi_enum', 'date', 'people'])[f + 1], case when f = 1 then 2 end, ${gid('user', '0')}, ${at('f')}
       from generate_series(0, 5) f`,
    // Options 0-4 belong to the enum field (2), 5-8 to the multi_enum field (3).
    `insert into custom_field_enum_options (gid, custom_field_gid, name, color, position)
       select ${gid('option', 'o')}, case when o < 5 then ${gid('field', '2')} else ${gid('field', '3')} end, 'Option ' || o, 'red', o from generate_series(0, 8) o`,
    `insert into project_custom_field_settings (gid, project_gid, custom_field_gid, position)
       select ${gid('projectMembership', `${P} + p * 6 + f`)}, ${gid('project', 'p')}, ${gid('field', 'f')}, f from generate_series(0, ${P - 1}) p, generate_series(0, 5) f`,
    `insert into tasks (gid, organization_gid, name, notes, resource_subtype, completed, completed_at, assignee_gid, assignee_status, due_on, parent_gid, created_by, created_at, modified_at)
       select ${gid('task', 'i')}, ${lit(org)}, case when ${topLevel} then 'Task ' || i else 'Subtask ' || i end,
              left(repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit; ', 8), (i * 37) % 400),
              case when i % 50 = 0 then 'milestone' else 'default_task' end,
              i % 4 = 0, case when i % 4 = 0 then ${at('i + 60000')} end,
              case when i % 10 < 7 then ${gid('user', `i % ${U}`)} end, 'inbox',
              case when i % 3 = 0 then date '2026-01-01' + (i % 365) end,
              case when ${topLevel} then null else ${gid('task', 'i - 1')} end,
              ${gid('user', `(i * 7) % ${U}`)}, ${at('i')}, ${at('i + 60000')}
       from generate_series(0, ${N - 1}) i`,
    `insert into task_ancestors (task_gid, ancestor_gid, depth)
       select ${gid('task', 'i')}, ${gid('task', 'i')}, 0 from generate_series(0, ${N - 1}) i
       union all
       select ${gid('task', 'i')}, ${gid('task', 'i - 1')}, 1 from generate_series(0, ${N - 1}) i where not ${topLevel}`,
    `insert into task_projects (task_gid, project_gid, section_gid, position, added_at)
       select ${gid('task', 'i')}, ${gid('project', `i % ${P}`)}, ${gid('section', `(i % ${P}) * ${SP} + (i / ${P}) % ${SP}`)}, i, ${at('i')}
       from generate_series(0, ${N - 1}) i where ${topLevel}`,
    `insert into task_followers (task_gid, user_gid, created_at)
       select ${gid('task', 'i')}, ${gid('user', `i % ${U}`)}, ${at('i')} from generate_series(0, ${N - 1}) i
       union all
       select ${gid('task', 'i')}, ${gid('user', `(i + ${Math.floor(U / 2)}) % ${U}`)}, ${at('i + 1')} from generate_series(0, ${N - 1}) i`,
    `insert into task_likes (task_gid, user_gid, created_at)
       select ${gid('task', 'i')}, ${gid('user', `(i + 3) % ${U}`)}, ${at('i + 120000')} from generate_series(0, ${N - 1}) i where i % 5 = 0`,
    `insert into task_tags (task_gid, tag_gid, added_at)
       select ${gid('task', 'i')}, ${gid('tag', `(i / 2) % ${s.tags}`)}, ${at('i')} from generate_series(0, ${N - 1}) i where i % 2 = 0`,
    `insert into task_custom_field_values (task_gid, custom_field_gid, text_value)
       select ${gid('task', 'i')}, ${gid('field', '0')}, 'value ' || i from generate_series(0, ${N - 1}) i`,
    `insert into task_custom_field_values (task_gid, custom_field_gid, number_value, enum_option_gid, date_value, multi_values)
       select ${gid('task', 'i')}, ${gid('field', '1 + i % 5')},
              case when i % 5 = 0 then (i % 1000) + 0.25 end,
              case when i % 5 = 1 then ${gid('option', 'i % 5')} end,
              case when i % 5 = 3 then date '2026-01-01' + (i % 365) end,
              case when i % 5 = 2 then jsonb_build_array(${gid('option', '5 + i % 4')}, ${gid('option', '5 + (i + 1) % 4')})
                   when i % 5 = 4 then jsonb_build_array(${gid('user', `i % ${U}`)}) end
       from generate_series(0, ${N - 1}) i`,
    // Comment k < N on task k; comment N + i on even task i.
    `insert into stories (gid, task_gid, text, created_by, created_at, modified_at)
       select ${gid('story', 'i')}, ${gid('task', 'i')}, 'First comment on task ' || i || ': looks good to me.', ${gid('user', `(i * 3) % ${U}`)}, ${at('i + 180000')}, ${at('i + 180000')} from generate_series(0, ${N - 1}) i
       union all
       select ${gid('story', `${N} + i`)}, ${gid('task', 'i')}, 'Second comment on task ' || i || ', with a question?', ${gid('user', `(i * 5) % ${U}`)}, ${at('i + 240000')}, ${at('i + 240000')} from generate_series(0, ${N - 1}) i where i % 2 = 0`,
    `insert into story_likes (story_gid, user_gid, created_at)
       select ${gid('story', 'i')}, ${gid('user', `(i + 1) % ${U}`)}, ${at('i + 300000')} from generate_series(0, ${N - 1}) i where i % 10 = 0`,
    `insert into attachments (gid, organization_gid, parent_type, parent_gid, name, content_type, size, blob_key, created_by, created_at)
       select ${gid('attachment', 'i')}, ${lit(org)}, 'task', ${gid('task', 'i')}, 'file-' || i || '.pdf', 'application/pdf', 1000 + i, 'attachments/' || ${lit(org)} || '/' || ${gid('attachment', 'i')},
              ${gid('user', `i % ${U}`)}, ${at('i + 30000')}
       from generate_series(0, ${N - 1}) i where i % 20 = 0`,
    `insert into messages (gid, organization_gid, parent_type, parent_gid, title, text, author_gid, created_at, modified_at)
       select ${gid('message', 'm')}, ${lit(org)}, case when m % 2 = 0 then 'project' else 'team' end,
              case when m % 2 = 0 then ${gid('project', `m % ${P}`)} else ${gid('team', `m % ${s.teams}`)} end,
              'Update ' || m, 'Here is where things stand this week.', ${gid('user', `m % ${U}`)}, ${at('m')}, ${at('m')}
       from generate_series(0, ${s.messages - 1}) m`,
    `insert into messages (gid, organization_gid, parent_type, parent_gid, reply_to_gid, text, author_gid, created_at, modified_at)
       select ${gid('message', `${s.messages} + m`)}, ${lit(org)}, case when m % 2 = 0 then 'project' else 'team' end,
              case when m % 2 = 0 then ${gid('project', `m % ${P}`)} else ${gid('team', `m % ${s.teams}`)} end,
              ${gid('message', 'm')}, 'Thanks!', ${gid('user', `(m + 1) % ${U}`)}, ${at('m + 1000')}, ${at('m + 1000')}
       from generate_series(0, ${s.messages - 1}) m where m % 2 = 0`,
    `insert into project_templates (gid, organization_gid, team_gid, name, is_public, owner_gid, template, created_at)
       select ${gid('projectTemplate', 't')}, ${lit(org)}, ${gid('team', '0')}, 'Template ' || t, true, ${gid('user', '0')},
              jsonb_build_object('sections', jsonb_build_array(jsonb_build_object('name', 'To do', 'tasks', jsonb_build_array(jsonb_build_object('name', 'First step'))))), ${at('t')}
       from generate_series(0, 1) t`,
    `insert into task_templates (gid, project_gid, name, template, created_by, created_at)
       select ${gid('taskTemplate', 't')}, ${gid('project', '0')}, 'Task template ' || t, jsonb_build_object('name', 'Checklist', 'subtasks', jsonb_build_array('a', 'b')), ${gid('user', '0')}, ${at('t')}
       from generate_series(0, 1) t`,
    `insert into one_time_tokens (token_hash, purpose, organization_gid, email, role, created_by, created_at, expires_at)
       values (md5('bench-invitation-${N}'), 'invitation', ${lit(org)}, 'invitee@bench.test', 'member', ${lit(gidOf('user', 0))}, ${lit(now.toISOString())}, ${lit(new Date(now.getTime() + 7 * 86_400_000).toISOString())})`,
    // PGlite runs no autovacuum: collect the statistics a server would have.
    'analyze',
  ];
  const topLevelTasks = N - Math.floor(N / 10);
  const rows: Record<string, number> = {
    users: U,
    teams: s.teams,
    projects: P,
    sections: P * SP,
    tags: s.tags,
    tasks: N,
    task_ancestors: N + Math.floor(N / 10),
    task_projects: topLevelTasks,
    task_followers: 2 * N,
    task_likes: Math.ceil(N / 5),
    task_tags: Math.ceil(N / 2),
    task_custom_field_values: 2 * N,
    stories: N + Math.ceil(N / 2),
    story_likes: Math.ceil(N / 10),
    attachments: Math.ceil(N / 20),
    messages: s.messages + Math.ceil(s.messages / 2),
  };
  return {
    statements,
    organization: {
      organizationGid: org,
      adminGid: gidOf('user', 0),
      adminEmail: 'user0@bench.test',
      projectGid: gidOf('project', 0),
      taskGid: gidOf('task', 8), // task 9 is its subtask
      sizes: s,
      rows,
    },
  };
}
