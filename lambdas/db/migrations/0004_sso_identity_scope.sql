-- An external identity belongs to one organization's identity provider: (issuer, subject)
-- is unique per organization, so one organization's admin cannot claim another
-- organization's identities by reusing its issuer or entity id.
alter table user_identities drop constraint user_identities_issuer_subject_key;
create unique index user_identities_org_issuer_subject_key on user_identities (organization_gid, issuer, subject);
