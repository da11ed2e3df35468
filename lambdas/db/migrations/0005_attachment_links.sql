-- External attachments (Asana's resource_subtype "external"): a link with a name and no
-- bytes. Their blob_key is still the attachment's own key (attachments/<org>/<gid>), with
-- nothing stored under it, so the purge treats every attachment alike.
alter table attachments add column resource_subtype text not null default 'asana' check (resource_subtype in ('asana', 'external'));
alter table attachments add column url text check (url is null or length(url) <= 2048);
alter table attachments add constraint attachments_external_url check ((resource_subtype = 'external') = (url is not null));
