-- Core tables shared by every capability: organizations, users, memberships and the
-- transactional outbox. Identifiers are text gids (decimal strings, as Asana's), so the
-- RDS Data API binds them as plain strings without type hints.

create table organizations (
  gid         text primary key,
  name        text not null check (length(name) between 1 and 256),
  plan        text not null default 'free' check (plan in ('free', 'paid')),
  created_at  timestamptz not null default now(),
  modified_at timestamptz not null default now(),
  deleted_at  timestamptz
);

create table users (
  gid         text primary key,
  email       text not null check (length(email) between 3 and 320),
  name        text not null check (length(name) between 1 and 256),
  created_at  timestamptz not null default now(),
  modified_at timestamptz not null default now(),
  deleted_at  timestamptz
);
create unique index users_email_key on users (lower(email));

create table organization_memberships (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  user_gid         text not null references users (gid),
  role             text not null check (role in ('super_admin', 'admin', 'member', 'guest')),
  created_at       timestamptz not null default now(),
  removed_at       timestamptz,
  unique (organization_gid, user_gid)
);
create index organization_memberships_user_idx on organization_memberships (user_gid);

-- Transactional outbox: a message that must not be lost (a login alert, an export link)
-- is inserted in the same transaction as the event that causes it, then dispatched by a
-- relay with retries. A row is claimed by moving available_at forward (a lease).
create table outbox_messages (
  gid           text primary key,
  topic         text not null check (topic in ('mail', 'exports')),
  dedupe_key    text,
  payload       jsonb not null,
  created_at    timestamptz not null default now(),
  available_at  timestamptz not null default now(),
  attempts      integer not null default 0 check (attempts >= 0),
  dispatched_at timestamptz,
  last_error    text
);
create unique index outbox_messages_dedupe_key on outbox_messages (topic, dedupe_key) where dedupe_key is not null;
create index outbox_messages_pending_idx on outbox_messages (available_at, gid) where dispatched_at is null;
