-- The work graph: teams, projects, sections, tasks, stories, tags, custom fields,
-- attachments, messages, templates, My tasks and saved searches. Soft deletion sets
-- deleted_at; tasks are purged 30 days after deletion, projects and teams are kept.

create table teams (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  name             text not null check (length(name) between 1 and 256),
  description      text not null default '',
  visibility       text not null default 'request_to_join' check (visibility in ('public', 'request_to_join', 'secret')),
  created_by       text references users (gid),
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  deleted_at       timestamptz
);
create index teams_org_idx on teams (organization_gid, name, gid);

create table team_memberships (
  gid               text primary key,
  team_gid          text not null references teams (gid),
  user_gid          text not null references users (gid),
  is_limited_access boolean not null default false,
  is_admin          boolean not null default false,
  created_at        timestamptz not null,
  unique (team_gid, user_gid)
);
create index team_memberships_user_idx on team_memberships (user_gid);

-- Adding an email that is not in the organization yet: an invitation that also joins the team.
alter table one_time_tokens add column team_gid text references teams (gid);

create table projects (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  team_gid         text references teams (gid),
  name             text not null check (length(name) between 1 and 1024),
  notes            text not null default '',
  color            text,
  owner_gid        text references users (gid),
  due_on           date,
  start_on         date,
  privacy_setting  text not null default 'public_to_workspace' check (privacy_setting in ('public_to_workspace', 'private_to_team', 'private')),
  archived         boolean not null default false,
  completed        boolean not null default false,
  completed_at     timestamptz,
  default_view     text not null default 'list' check (default_view in ('list', 'board', 'calendar', 'timeline')),
  created_by       text references users (gid),
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  deleted_at       timestamptz
);
create index projects_org_idx on projects (organization_gid, gid);
create index projects_team_idx on projects (team_gid, gid);

create table project_memberships (
  gid          text primary key,
  project_gid  text not null references projects (gid),
  user_gid     text not null references users (gid),
  access_level text not null default 'editor' check (access_level in ('admin', 'editor', 'commenter', 'viewer')),
  created_at   timestamptz not null,
  unique (project_gid, user_gid)
);
create index project_memberships_user_idx on project_memberships (user_gid);

create table project_followers (
  project_gid text not null references projects (gid),
  user_gid    text not null references users (gid),
  created_at  timestamptz not null,
  primary key (project_gid, user_gid)
);

create table project_statuses (
  gid         text primary key,
  project_gid text not null references projects (gid),
  title       text not null,
  text        text not null default '',
  status_type text not null check (status_type in ('on_track', 'at_risk', 'off_track', 'on_hold', 'complete')),
  author_gid  text references users (gid),
  created_at  timestamptz not null,
  modified_at timestamptz not null,
  deleted_at  timestamptz
);
create index project_statuses_project_idx on project_statuses (project_gid, created_at);

create table sections (
  gid         text primary key,
  project_gid text not null references projects (gid),
  name        text not null check (length(name) <= 1024),
  position    double precision not null,
  created_at  timestamptz not null,
  deleted_at  timestamptz
);
create index sections_project_idx on sections (project_gid, position);

create table tasks (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  name             text not null default '' check (length(name) <= 1024),
  notes            text not null default '',
  resource_subtype text not null default 'default_task' check (resource_subtype in ('default_task', 'milestone', 'approval')),
  completed        boolean not null default false,
  completed_at     timestamptz,
  assignee_gid     text references users (gid),
  assignee_status  text not null default 'inbox' check (assignee_status in ('inbox', 'today', 'upcoming', 'later')),
  due_on           date,
  start_on         date,
  parent_gid       text references tasks (gid),
  created_by       text references users (gid),
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  deleted_at       timestamptz
);
create index tasks_org_idx on tasks (organization_gid, gid);
create index tasks_assignee_idx on tasks (assignee_gid, organization_gid) where deleted_at is null;
create index tasks_parent_idx on tasks (parent_gid);
create index tasks_deleted_idx on tasks (deleted_at) where deleted_at is not null;
create index tasks_modified_idx on tasks (organization_gid, modified_at);

-- Every task with itself (depth 0) and each ancestor: access to a task is granted by the
-- task or any ancestor (subtasks share their parent's visibility).
create table task_ancestors (
  task_gid     text not null references tasks (gid),
  ancestor_gid text not null references tasks (gid),
  depth        integer not null check (depth >= 0),
  primary key (task_gid, ancestor_gid)
);
create index task_ancestors_ancestor_idx on task_ancestors (ancestor_gid);

create table task_projects (
  task_gid    text not null references tasks (gid),
  project_gid text not null references projects (gid),
  section_gid text references sections (gid),
  position    double precision not null,
  added_at    timestamptz not null,
  primary key (task_gid, project_gid)
);
create index task_projects_project_idx on task_projects (project_gid, position);
create index task_projects_section_idx on task_projects (section_gid, position);

create table task_followers (
  task_gid   text not null references tasks (gid),
  user_gid   text not null references users (gid),
  created_at timestamptz not null,
  primary key (task_gid, user_gid)
);
create index task_followers_user_idx on task_followers (user_gid);

create table task_likes (
  task_gid   text not null references tasks (gid),
  user_gid   text not null references users (gid),
  created_at timestamptz not null,
  primary key (task_gid, user_gid)
);

create table tags (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  name             text not null check (length(name) between 1 and 256),
  color            text,
  notes            text not null default '',
  created_by       text references users (gid),
  created_at       timestamptz not null,
  deleted_at       timestamptz
);
create index tags_org_idx on tags (organization_gid, name, gid);

create table task_tags (
  task_gid text not null references tasks (gid),
  tag_gid  text not null references tags (gid),
  added_at timestamptz not null,
  primary key (task_gid, tag_gid)
);
create index task_tags_tag_idx on task_tags (tag_gid);

create table stories (
  gid              text primary key,
  task_gid         text not null references tasks (gid),
  resource_subtype text not null default 'comment_added',
  text             text not null,
  is_pinned        boolean not null default false,
  created_by       text references users (gid),
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  edited_at        timestamptz,
  deleted_at       timestamptz
);
create index stories_task_idx on stories (task_gid, created_at, gid);

create table story_likes (
  story_gid  text not null references stories (gid),
  user_gid   text not null references users (gid),
  created_at timestamptz not null,
  primary key (story_gid, user_gid)
);

create table custom_fields (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  name             text not null check (length(name) between 1 and 256),
  description      text not null default '',
  resource_subtype text not null check (resource_subtype in ('text', 'number', 'enum', 'multi_enum', 'date', 'people')),
  precision        integer check (precision between 0 and 6),
  created_by       text references users (gid),
  created_at       timestamptz not null,
  deleted_at       timestamptz
);
create index custom_fields_org_idx on custom_fields (organization_gid, name, gid);
-- Names are unique in a workspace, ignoring case (deleted fields free their name).
create unique index custom_fields_org_name_key on custom_fields (organization_gid, lower(name)) where deleted_at is null;

create table custom_field_enum_options (
  gid              text primary key,
  custom_field_gid text not null references custom_fields (gid),
  name             text not null check (length(name) between 1 and 256),
  color            text,
  enabled          boolean not null default true,
  position         double precision not null
);
create index enum_options_field_idx on custom_field_enum_options (custom_field_gid, position);

create table project_custom_field_settings (
  gid              text primary key,
  project_gid      text not null references projects (gid),
  custom_field_gid text not null references custom_fields (gid),
  is_important     boolean not null default false,
  position         double precision not null,
  unique (project_gid, custom_field_gid)
);

-- One row per (task, field) with a value; multi-valued fields (multi_enum, people) keep
-- their gids in multi_values (a jsonb array).
create table task_custom_field_values (
  task_gid         text not null references tasks (gid),
  custom_field_gid text not null references custom_fields (gid),
  text_value       text,
  number_value     numeric,
  date_value       date,
  enum_option_gid  text references custom_field_enum_options (gid),
  multi_values     jsonb,
  primary key (task_gid, custom_field_gid)
);

create table attachments (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  parent_type      text not null check (parent_type in ('task', 'project')),
  parent_gid       text not null,
  name             text not null check (length(name) between 1 and 1024),
  content_type     text not null,
  size             bigint,
  blob_key         text not null,
  upload_state     text not null default 'complete' check (upload_state in ('pending', 'complete')),
  created_by       text references users (gid),
  created_at       timestamptz not null,
  deleted_at       timestamptz
);
create index attachments_parent_idx on attachments (parent_type, parent_gid, created_at, gid);

-- Conversations posted to a team or a project; replies point at their message.
create table messages (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  parent_type      text not null check (parent_type in ('team', 'project')),
  parent_gid       text not null,
  reply_to_gid     text references messages (gid),
  title            text,
  text             text not null,
  author_gid       text references users (gid),
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  deleted_at       timestamptz
);
create index messages_parent_idx on messages (parent_type, parent_gid, created_at, gid);
create index messages_reply_idx on messages (reply_to_gid, created_at, gid);

create table project_templates (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  team_gid         text references teams (gid),
  name             text not null,
  description      text not null default '',
  is_public        boolean not null default false,
  owner_gid        text references users (gid),
  -- The saved structure: sections, tasks (with subtasks), custom field settings.
  template         jsonb not null,
  created_at       timestamptz not null,
  deleted_at       timestamptz
);

create table task_templates (
  gid         text primary key,
  project_gid text not null references projects (gid),
  name        text not null,
  template    jsonb not null,
  created_by  text references users (gid),
  created_at  timestamptz not null,
  deleted_at  timestamptz
);

create table user_task_lists (
  gid              text primary key,
  user_gid         text not null references users (gid),
  organization_gid text not null references organizations (gid),
  created_at       timestamptz not null,
  unique (user_gid, organization_gid)
);

create table saved_searches (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  owner_gid        text not null references users (gid),
  name             text not null check (length(name) between 1 and 256),
  filters          jsonb not null,
  created_at       timestamptz not null,
  modified_at      timestamptz not null,
  deleted_at       timestamptz
);
create index saved_searches_owner_idx on saved_searches (owner_gid, created_at);
