-- Change tracking for incremental organization exports (docs/export-format.md, "Incremental
-- exports"): every exported object can say when it last changed, and deletions that
-- remove a row leave a trace.
--
-- modified_at on the tables that had none. The application writes it with its clock, in
-- the transaction of the change (and moves it forward with greatest(modified_at, now)).
-- Existing rows start at the last thing known about them (created_at, or the deletion /
-- removal when later; enum options and custom field settings, which have no created_at,
-- from their field and their project). A row inserted without modified_at (code that
-- predates this column, fixtures) gets its created_at, or its parent's modified_at, from
-- the trigger functions below, so the column is never null and never ahead of the data.

alter table sections add column modified_at timestamptz;
update sections set modified_at = greatest(created_at, deleted_at);
alter table sections alter column modified_at set not null;

alter table tags add column modified_at timestamptz;
update tags set modified_at = greatest(created_at, deleted_at);
alter table tags alter column modified_at set not null;

alter table custom_fields add column modified_at timestamptz;
update custom_fields set modified_at = greatest(created_at, deleted_at);
alter table custom_fields alter column modified_at set not null;

alter table custom_field_enum_options add column modified_at timestamptz;
update custom_field_enum_options o set modified_at = f.modified_at from custom_fields f where f.gid = o.custom_field_gid;
alter table custom_field_enum_options alter column modified_at set not null;

alter table project_custom_field_settings add column modified_at timestamptz;
update project_custom_field_settings s set modified_at = p.modified_at from projects p where p.gid = s.project_gid;
alter table project_custom_field_settings alter column modified_at set not null;

alter table attachments add column modified_at timestamptz;
update attachments set modified_at = greatest(created_at, deleted_at);
alter table attachments alter column modified_at set not null;

alter table project_templates add column modified_at timestamptz;
update project_templates set modified_at = greatest(created_at, deleted_at);
alter table project_templates alter column modified_at set not null;

alter table task_templates add column modified_at timestamptz;
update task_templates set modified_at = greatest(created_at, deleted_at);
alter table task_templates alter column modified_at set not null;

alter table organization_memberships add column modified_at timestamptz;
update organization_memberships set modified_at = greatest(created_at, removed_at);
alter table organization_memberships alter column modified_at set not null;

alter table team_memberships add column modified_at timestamptz;
update team_memberships set modified_at = created_at;
alter table team_memberships alter column modified_at set not null;

-- Defaults for inserts that leave modified_at out: a new row was last modified when it
-- was created. (NOT NULL is checked after BEFORE triggers, column defaults before them.)
create function change_tracking_created() returns trigger language plpgsql as $$
begin
  if new.modified_at is null then
    new.modified_at = new.created_at;
  end if;
  return new;
end
$$;

create trigger sections_modified_at before insert on sections for each row execute function change_tracking_created();
create trigger tags_modified_at before insert on tags for each row execute function change_tracking_created();
create trigger custom_fields_modified_at before insert on custom_fields for each row execute function change_tracking_created();
create trigger attachments_modified_at before insert on attachments for each row execute function change_tracking_created();
create trigger project_templates_modified_at before insert on project_templates for each row execute function change_tracking_created();
create trigger task_templates_modified_at before insert on task_templates for each row execute function change_tracking_created();
create trigger organization_memberships_modified_at before insert on organization_memberships for each row execute function change_tracking_created();
create trigger team_memberships_modified_at before insert on team_memberships for each row execute function change_tracking_created();

-- Enum options and custom field settings have no created_at: they take their field's
-- (their project's) modified_at, which the application moves when it adds them.
create function change_tracking_enum_option() returns trigger language plpgsql as $$
begin
  if new.modified_at is null then
    new.modified_at = coalesce((select f.modified_at from custom_fields f where f.gid = new.custom_field_gid), now());
  end if;
  return new;
end
$$;

create trigger custom_field_enum_options_modified_at before insert on custom_field_enum_options for each row execute function change_tracking_enum_option();

create function change_tracking_field_setting() returns trigger language plpgsql as $$
begin
  if new.modified_at is null then
    new.modified_at = coalesce((select p.modified_at from projects p where p.gid = new.project_gid), now());
  end if;
  return new;
end
$$;

create trigger project_custom_field_settings_modified_at before insert on project_custom_field_settings for each row execute function change_tracking_field_setting();

-- Objects with a gid that are deleted by removing their row: team memberships, project
-- memberships, custom field settings, and what the purge removes for good (tasks, their
-- comments and attachments, attachments deleted on their own). One row per object,
-- written in the transaction that deletes it, with the instant it stopped existing for
-- the API (for purged objects: their original deleted_at). Incremental exports turn these
-- into tombstones. Kept forever, like deleted projects and teams (a few dozen bytes per
-- deletion).
create table deleted_objects (
  organization_gid text not null references organizations (gid),
  resource_type    text not null check (resource_type in ('team_membership', 'project_membership', 'custom_field_setting', 'enum_option', 'task', 'story', 'attachment')),
  gid              text not null,
  deleted_at       timestamptz not null,
  primary key (resource_type, gid)
);
create index deleted_objects_org_idx on deleted_objects (organization_gid, deleted_at);
