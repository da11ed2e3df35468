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
}

export type Organization = Selectable<OrganizationsTable>;
export type NewOrganization = Insertable<OrganizationsTable>;
export type User = Selectable<UsersTable>;
export type OutboxMessage = Selectable<OutboxMessagesTable>;
export type Session = Selectable<SessionsTable>;
export type ServiceAccount = Selectable<ServiceAccountsTable>;
