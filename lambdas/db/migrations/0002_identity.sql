-- Identity: credentials, sessions, SSO, login detection, invitations, service accounts,
-- throttling and the audit trail. Secrets (tokens) are stored only as SHA-256 hashes;
-- IP addresses used for login detection only as keyed HMACs.

alter table users add column password_hash text;
alter table users add column password_changed_at timestamptz;
-- Set by "This wasn't me": the password must be reset before the next password login.
alter table users add column must_reset_password boolean not null default false;

-- SSO settings per organization. Client secrets are stored encrypted (AES-256-GCM with
-- the application key), never in clear.
alter table organizations add column sso_required boolean not null default false;
alter table organizations add column oidc_issuer text;
alter table organizations add column oidc_client_id text;
alter table organizations add column oidc_client_secret_enc text;
alter table organizations add column saml_idp_entity_id text;
alter table organizations add column saml_idp_sso_url text;
alter table organizations add column saml_idp_certificate text;

-- A person's identity at an external provider, keyed by (issuer, subject) as OIDC and
-- SAML name them.
create table user_identities (
  gid              text primary key,
  user_gid         text not null references users (gid),
  organization_gid text not null references organizations (gid),
  kind             text not null check (kind in ('oidc', 'saml')),
  issuer           text not null,
  subject          text not null,
  created_at       timestamptz not null default now(),
  unique (issuer, subject)
);

create table sessions (
  gid            text primary key,
  user_gid       text not null references users (gid),
  token_hash     text not null unique,
  method         text not null check (method in ('password', 'oidc', 'saml', 'signup', 'invitation')),
  created_at     timestamptz not null,
  last_used_at   timestamptz not null,
  expires_at     timestamptz not null,
  revoked_at     timestamptz,
  revoked_reason text,
  ip_address     text,
  user_agent     text
);
create index sessions_user_idx on sessions (user_gid, created_at);

-- Browser + IP combinations a user has logged in with: an HMAC of
-- (browser family, OS family, IP or IPv6 /64), never the IP itself.
create table known_logins (
  user_gid      text not null references users (gid),
  combo_hmac    text not null,
  first_seen_at timestamptz not null,
  primary key (user_gid, combo_hmac)
);

-- Login history shown to the user; raw IPs are cleared after the retention period.
create table login_events (
  gid          text primary key,
  user_gid     text not null references users (gid),
  session_gid  text references sessions (gid),
  method       text not null,
  created_at   timestamptz not null,
  browser      text not null,
  os           text not null,
  ip_address   text,
  ip_purged_at timestamptz,
  was_new      boolean not null
);
create index login_events_user_idx on login_events (user_gid, created_at desc, gid desc);
create index login_events_ip_retention_idx on login_events (created_at) where ip_address is not null;

-- Single-use tokens: invitation links, "This wasn't me" links, password resets.
create table one_time_tokens (
  token_hash  text primary key,
  purpose     text not null check (purpose in ('invitation', 'not_me', 'password_reset')),
  user_gid    text references users (gid),
  session_gid text references sessions (gid),
  organization_gid text references organizations (gid),
  email       text,
  role        text check (role in ('admin', 'member', 'guest')),
  created_by  text references users (gid),
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  used_at     timestamptz
);

-- Failed login attempts per account and per IP (keys are HMACs), for growing delays.
create table login_throttle (
  key             text primary key,
  failures        integer not null,
  last_failure_at timestamptz not null,
  blocked_until   timestamptz not null
);

create table service_accounts (
  gid              text primary key,
  organization_gid text not null references organizations (gid),
  name             text not null check (length(name) between 1 and 256),
  scopes           text not null,
  token_hash       text not null unique,
  created_by       text not null references users (gid),
  created_at       timestamptz not null,
  last_used_at     timestamptz,
  revoked_at       timestamptz
);
create index service_accounts_org_idx on service_accounts (organization_gid, created_at);

-- Pending SSO logins: OIDC state/nonce/PKCE verifier, SAML request ids.
create table sso_requests (
  id               text primary key,
  kind             text not null check (kind in ('oidc', 'saml')),
  organization_gid text not null references organizations (gid),
  nonce            text,
  code_verifier    text,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  used_at          timestamptz
);

-- SAML assertion ids already accepted (replay protection until they expire).
create table saml_assertions_seen (
  assertion_id text primary key,
  expires_at   timestamptz not null
);

create table audit_log_events (
  gid              text primary key,
  organization_gid text references organizations (gid),
  event_type       text not null,
  event_category   text not null,
  actor_type       text not null check (actor_type in ('user', 'service_account', 'anonymous', 'system')),
  actor_gid        text,
  resource_type    text,
  resource_gid     text,
  ip_address       text,
  user_agent       text,
  details          jsonb not null default '{}',
  created_at       timestamptz not null
);
create index audit_log_events_org_idx on audit_log_events (organization_gid, created_at, gid);
create index audit_log_events_user_idx on audit_log_events (actor_gid, created_at);
