-- Asynchronous exports (team CSV, full organization JSON). A job row is the export: its
-- gid is what the API returns and what the emailed link names. It is also the
-- idempotency key of the worker: a worker claims the job for one step with a
-- conditional update (state, step, expired lease), writes parts of the file, and
-- records after every part where it stands (checkpoint), so a new invocation resumes
-- there. step counts the hand-offs from one invocation to the next; a queue message
-- names the step it continues, so a stale or duplicated message finds nothing to do.
create table export_jobs (
  gid                          text primary key,
  organization_gid             text not null references organizations (gid),
  kind                         text not null check (kind in ('team_csv', 'organization')),
  state                        text not null default 'pending' check (state in ('pending', 'started', 'finished', 'error')),
  requested_by_user            text references users (gid),
  requested_by_service_account text references service_accounts (gid),
  -- The public base URL the request came in on: the emailed link and links in the document.
  base_url                     text not null check (length(base_url) <= 2048),
  modified_since               timestamptz,
  created_at                   timestamptz not null,
  modified_at                  timestamptz not null,
  started_at                   timestamptz,
  finished_at                  timestamptz,
  -- finished_at + the link lifetime: afterwards the file is gone and the link answers 410.
  expires_at                   timestamptz,
  step                         integer not null default 0 check (step >= 0),
  lease_until                  timestamptz,
  invocations                  integer not null default 0 check (invocations >= 0),
  -- {position, upload: {upload_id, parts}, sha256_state, bytes, source_bytes, completing}
  checkpoint                   jsonb,
  blob_key                     text,
  -- {counts, bytes, source_bytes, sha256, content_type, filename, gzip}
  manifest                     jsonb,
  -- A short reason for operators and requesters (never data or secrets).
  last_error                   text check (last_error is null or length(last_error) <= 500),
  check ((requested_by_user is null) <> (requested_by_service_account is null)),
  check ((state = 'finished') = (finished_at is not null and blob_key is not null and manifest is not null))
);
create index export_jobs_org_idx on export_jobs (organization_gid, created_at, gid);
-- The relay finds jobs whose hand-off message was lost.
create index export_jobs_unfinished_idx on export_jobs (modified_at, gid) where state in ('pending', 'started');
