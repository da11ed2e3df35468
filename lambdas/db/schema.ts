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
}

export interface UsersTable {
  gid: string;
  email: string;
  name: string;
  created_at: Timestamp;
  modified_at: Timestamp;
  deleted_at: NullableTimestamp;
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
}

export type Organization = Selectable<OrganizationsTable>;
export type NewOrganization = Insertable<OrganizationsTable>;
export type User = Selectable<UsersTable>;
export type OutboxMessage = Selectable<OutboxMessagesTable>;
