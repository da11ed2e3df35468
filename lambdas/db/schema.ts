/**
 * Kysely's view of the schema (one typed schema for every engine). Keep in step with
 * migrations/*.sql (the repository suites exercise every table on every engine).
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** timestamptz: read as Date, written as Date (the Data API binds it with typeHint TIMESTAMP). */
export type Timestamp = ColumnType<Date, Date | undefined, Date>;
export type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** jsonb: written through json() from query.ts, read as parsed JSON. */
export type Json<T = unknown> = ColumnType<T, never, never>;

export interface OrganizationsTable {
  gid: string;
  name: string;
  plan: ColumnType<'free' | 'paid', 'free' | 'paid' | undefined, 'free' | 'paid'>;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
  sso_required: Generated<boolean>;
  oidc_issuer: string | null;
  oidc_client_id: string | null;
  oidc_client_secret_enc: string | null;
  saml_idp_entity_id: string | null;
  saml_idp_sso_url: string | null;
  saml_idp_certificate: string | null;
}

export interface UsersTable {
  gid: string;
  email: string;
  name: string;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
  password_hash: string | null;
  password_changed_at: NullableTimestamp;
  must_reset_password: Generated<boolean>;
}

export type Role = 'super_admin' | 'admin' | 'member' | 'guest';

export interface OrganizationMembershipsTable {
  gid: string;
  organization_gid: string;
  user_gid: string;
  role: Role;
  created_at: Timestamp;
  /** Moves with the role and removal (0007_change_tracking.sql). */
  modified_at: Timestamp;
  removed_at: NullableTimestamp;
}

export type OutboxTopic = 'mail' | 'exports';

export interface OutboxMessagesTable {
  gid: string;
  topic: OutboxTopic;
  dedupe_key: string | null;
  payload: ColumnType<unknown, unknown, unknown>;
  created_at: Timestamp;
  available_at: Timestamp;
  attempts: Generated<number>;
  dispatched_at: NullableTimestamp;
  last_error: string | null;
}

export type SsoKind = 'oidc' | 'saml';
export type SessionMethod = 'password' | 'oidc' | 'saml' | 'signup' | 'invitation';

export interface UserIdentitiesTable {
  gid: string;
  user_gid: string;
  organization_gid: string;
  kind: SsoKind;
  issuer: string;
  subject: string;
  created_at: Timestamp;
}

export interface SessionsTable {
  gid: string;
  user_gid: string;
  token_hash: string;
  method: SessionMethod;
  created_at: Timestamp;
  last_used_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  ip_address: string | null;
  user_agent: string | null;
}

export interface KnownLoginsTable {
  user_gid: string;
  combo_hmac: string;
  first_seen_at: Timestamp;
}

export interface LoginEventsTable {
  gid: string;
  user_gid: string;
  session_gid: string | null;
  method: string;
  created_at: Timestamp;
  browser: string;
  os: string;
  ip_address: string | null;
  ip_purged_at: NullableTimestamp;
  was_new: boolean;
}

export type OneTimePurpose = 'invitation' | 'not_me' | 'password_reset';

export interface OneTimeTokensTable {
  token_hash: string;
  purpose: OneTimePurpose;
  user_gid: string | null;
  session_gid: string | null;
  organization_gid: string | null;
  email: string | null;
  role: Exclude<Role, 'super_admin'> | null;
  team_gid: string | null;
  created_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  last_failure_at: Timestamp;
  blocked_until: Timestamp;
}

export interface ServiceAccountsTable {
  gid: string;
  organization_gid: string;
  name: string;
  /** Comma-separated scopes, e.g. "exports". */
  scopes: string;
  token_hash: string;
  created_by: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface SsoRequestsTable {
  id: string;
  kind: SsoKind;
  organization_gid: string;
  nonce: string | null;
  code_verifier: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface SamlAssertionsSeenTable {
  assertion_id: string;
  expires_at: Timestamp;
}

export type ActorType = 'user' | 'service_account' | 'anonymous' | 'system';

export interface AuditLogEventsTable {
  gid: string;
  organization_gid: string | null;
  event_type: string;
  event_category: string;
  actor_type: ActorType;
  actor_gid: string | null;
  resource_type: string | null;
  resource_gid: string | null;
  ip_address: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, unknown, unknown>;
  created_at: Timestamp;
}

// --- The work graph (0003_work_graph.sql) ---

/** date columns: written through dateValue(), read through dateOnly() (query.ts). */
export type DateColumn = ColumnType<string | Date | null, unknown, unknown>;

export type TeamVisibility = 'public' | 'request_to_join' | 'secret';
export type PrivacySetting = 'public_to_workspace' | 'private_to_team' | 'private';

export interface TeamsTable {
  gid: string;
  organization_gid: string;
  name: string;
  description: Generated<string>;
  visibility: TeamVisibility;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface TeamMembershipsTable {
  gid: string;
  team_gid: string;
  user_gid: string;
  is_limited_access: Generated<boolean>;
  is_admin: Generated<boolean>;
  created_at: Timestamp;
  modified_at: Timestamp;
}

export interface ProjectsTable {
  gid: string;
  organization_gid: string;
  team_gid: string | null;
  name: string;
  notes: Generated<string>;
  color: string | null;
  owner_gid: string | null;
  due_on: DateColumn;
  start_on: DateColumn;
  privacy_setting: Generated<PrivacySetting>;
  archived: Generated<boolean>;
  completed: Generated<boolean>;
  completed_at: NullableTimestamp;
  default_view: Generated<'list' | 'board' | 'calendar' | 'timeline'>;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface ProjectMembershipsTable {
  gid: string;
  project_gid: string;
  user_gid: string;
  access_level: Generated<'admin' | 'editor' | 'commenter' | 'viewer'>;
  created_at: Timestamp;
}

export interface ProjectFollowersTable {
  project_gid: string;
  user_gid: string;
  created_at: Timestamp;
}

export interface ProjectStatusesTable {
  gid: string;
  project_gid: string;
  title: string;
  text: Generated<string>;
  status_type: 'on_track' | 'at_risk' | 'off_track' | 'on_hold' | 'complete';
  author_gid: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface SectionsTable {
  gid: string;
  project_gid: string;
  name: string;
  position: number;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export type AssigneeStatus = 'inbox' | 'today' | 'upcoming' | 'later';

export interface TasksTable {
  gid: string;
  organization_gid: string;
  name: Generated<string>;
  notes: Generated<string>;
  resource_subtype: Generated<'default_task' | 'milestone' | 'approval'>;
  completed: Generated<boolean>;
  completed_at: NullableTimestamp;
  assignee_gid: string | null;
  assignee_status: Generated<AssigneeStatus>;
  due_on: DateColumn;
  start_on: DateColumn;
  parent_gid: string | null;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface TaskAncestorsTable {
  task_gid: string;
  ancestor_gid: string;
  depth: number;
}

export interface TaskProjectsTable {
  task_gid: string;
  project_gid: string;
  section_gid: string | null;
  position: number;
  added_at: Timestamp;
}

export interface TaskUserLinkTable {
  task_gid: string;
  user_gid: string;
  created_at: Timestamp;
}

export interface TagsTable {
  gid: string;
  organization_gid: string;
  name: string;
  color: string | null;
  notes: Generated<string>;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface TaskTagsTable {
  task_gid: string;
  tag_gid: string;
  added_at: Timestamp;
}

export interface StoriesTable {
  gid: string;
  task_gid: string;
  resource_subtype: Generated<string>;
  text: string;
  is_pinned: Generated<boolean>;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  /** Set when the text was changed after posting. */
  edited_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
}

export interface StoryLikesTable {
  story_gid: string;
  user_gid: string;
  created_at: Timestamp;
}

export type CustomFieldType = 'text' | 'number' | 'enum' | 'multi_enum' | 'date' | 'people';

export interface CustomFieldsTable {
  gid: string;
  organization_gid: string;
  name: string;
  description: Generated<string>;
  resource_subtype: CustomFieldType;
  precision: number | null;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface CustomFieldEnumOptionsTable {
  gid: string;
  custom_field_gid: string;
  name: string;
  color: string | null;
  enabled: Generated<boolean>;
  position: number;
  modified_at: Timestamp;
}

export interface ProjectCustomFieldSettingsTable {
  gid: string;
  project_gid: string;
  custom_field_gid: string;
  is_important: Generated<boolean>;
  position: number;
  modified_at: Timestamp;
}

export interface TaskCustomFieldValuesTable {
  task_gid: string;
  custom_field_gid: string;
  text_value: string | null;
  /** numeric: read as string. */
  number_value: ColumnType<string | null, string | number | null, string | number | null>;
  date_value: DateColumn;
  enum_option_gid: string | null;
  multi_values: ColumnType<string[] | null, unknown, unknown>;
}

export interface AttachmentsTable {
  gid: string;
  organization_gid: string;
  parent_type: 'task' | 'project';
  parent_gid: string;
  name: string;
  content_type: string;
  size: ColumnType<string | number | null, number | null, number | null>;
  blob_key: string;
  /** 'external': a link (url) with no bytes in the blob store. */
  resource_subtype: Generated<'asana' | 'external'>;
  url: string | null;
  upload_state: Generated<'pending' | 'complete'>;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface MessagesTable {
  gid: string;
  organization_gid: string;
  parent_type: 'team' | 'project';
  parent_gid: string;
  reply_to_gid: string | null;
  title: string | null;
  text: string;
  author_gid: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface ProjectTemplatesTable {
  gid: string;
  organization_gid: string;
  team_gid: string | null;
  name: string;
  description: Generated<string>;
  is_public: Generated<boolean>;
  owner_gid: string | null;
  template: ColumnType<unknown, unknown, unknown>;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface TaskTemplatesTable {
  gid: string;
  project_gid: string;
  name: string;
  template: ColumnType<unknown, unknown, unknown>;
  created_by: string | null;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface UserTaskListsTable {
  gid: string;
  user_gid: string;
  organization_gid: string;
  created_at: Timestamp;
}

export interface SavedSearchesTable {
  gid: string;
  organization_gid: string;
  owner_gid: string;
  name: string;
  filters: ColumnType<Record<string, unknown>, unknown, unknown>;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export type ExportKind = 'team_csv' | 'organization';
export type ExportState = 'pending' | 'started' | 'finished' | 'error';

export interface ExportJobsTable {
  gid: string;
  organization_gid: string;
  kind: ExportKind;
  state: Generated<ExportState>;
  requested_by_user: string | null;
  requested_by_service_account: string | null;
  base_url: string;
  modified_since: NullableTimestamp;
  created_at: Timestamp;
  modified_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  step: Generated<number>;
  lease_until: NullableTimestamp;
  invocations: Generated<number>;
  checkpoint: ColumnType<unknown, unknown, unknown>;
  blob_key: string | null;
  manifest: ColumnType<unknown, unknown, unknown>;
  last_error: string | null;
}

export type DeletedObjectType = 'team_membership' | 'project_membership' | 'custom_field_setting' | 'enum_option' | 'task' | 'story' | 'attachment';

/** Objects with a gid whose row was deleted (0007_change_tracking.sql): the tombstones of incremental exports. */
export interface DeletedObjectsTable {
  organization_gid: string;
  resource_type: DeletedObjectType;
  gid: string;
  deleted_at: Timestamp;
}

export interface SchemaMigrationsTable {
  name: string;
  checksum: string;
  applied_at: Timestamp;
}

export interface DB {
  organizations: OrganizationsTable;
  users: UsersTable;
  organization_memberships: OrganizationMembershipsTable;
  outbox_messages: OutboxMessagesTable;
  schema_migrations: SchemaMigrationsTable;
  user_identities: UserIdentitiesTable;
  sessions: SessionsTable;
  known_logins: KnownLoginsTable;
  login_events: LoginEventsTable;
  one_time_tokens: OneTimeTokensTable;
  login_throttle: LoginThrottleTable;
  service_accounts: ServiceAccountsTable;
  sso_requests: SsoRequestsTable;
  saml_assertions_seen: SamlAssertionsSeenTable;
  audit_log_events: AuditLogEventsTable;
  teams: TeamsTable;
  team_memberships: TeamMembershipsTable;
  projects: ProjectsTable;
  project_memberships: ProjectMembershipsTable;
  project_followers: ProjectFollowersTable;
  project_statuses: ProjectStatusesTable;
  sections: SectionsTable;
  tasks: TasksTable;
  task_ancestors: TaskAncestorsTable;
  task_projects: TaskProjectsTable;
  task_followers: TaskUserLinkTable;
  task_likes: TaskUserLinkTable;
  tags: TagsTable;
  task_tags: TaskTagsTable;
  stories: StoriesTable;
  story_likes: StoryLikesTable;
  custom_fields: CustomFieldsTable;
  custom_field_enum_options: CustomFieldEnumOptionsTable;
  project_custom_field_settings: ProjectCustomFieldSettingsTable;
  task_custom_field_values: TaskCustomFieldValuesTable;
  attachments: AttachmentsTable;
  messages: MessagesTable;
  project_templates: ProjectTemplatesTable;
  task_templates: TaskTemplatesTable;
  user_task_lists: UserTaskListsTable;
  saved_searches: SavedSearchesTable;
  export_jobs: ExportJobsTable;
  deleted_objects: DeletedObjectsTable;
}

export type Organization = Selectable<OrganizationsTable>;
export type NewOrganization = Insertable<OrganizationsTable>;
export type User = Selectable<UsersTable>;
export type OutboxMessage = Selectable<OutboxMessagesTable>;
export type Session = Selectable<SessionsTable>;
export type ServiceAccount = Selectable<ServiceAccountsTable>;
