-- The vault: tenant key-encryption keys, data keys, the erasure ledger, encrypted records and file
-- metadata. Every table is tenant-owned (rule of 0001). No column holds plaintext personal data:
-- record data and subject ids are AES-256-GCM envelopes (src/vault/envelope.ts); subjects are found
-- by a keyed blind index (HMAC under a per-tenant key derived from the root key).
-- See docs/decisions/0020-vault-envelope-encryption.md.

-- Tenant key-encryption keys (KEKs), versioned; wrapped by the root key provider (local root key
-- or KMS), never stored in the clear. The newest version not retired wraps new data keys.
create table tenant_keys (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  version integer not null check (version >= 1),
  provider text not null,
  wrapped_key bytea not null,
  created_at timestamptz not null default now(),
  retired_at timestamptz,
  primary key (tenant_id, version)
);
alter table tenant_keys enable row level security;
alter table tenant_keys force row level security;
create policy tenant_keys_isolation on tenant_keys
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update (retired_at) on tenant_keys to rampart_app;

-- Data keys: one per data subject (subject_index = blind index of the subject id) and one per
-- tenant for data without a subject (subject_index null), wrapped by a tenant KEK. Shredding
-- overwrites wrapped_key and sets destroyed_at; a later write for the same subject gets a new key.
create table data_keys (
  tenant_id uuid not null,
  key_id uuid not null,
  subject_index bytea,
  kek_version integer not null,
  wrapped_key bytea not null,
  created_at timestamptz not null default now(),
  destroyed_at timestamptz,
  primary key (tenant_id, key_id),
  foreign key (tenant_id, kek_version) references tenant_keys (tenant_id, version) on delete cascade
);
create unique index data_keys_live_subject on data_keys (tenant_id, subject_index) where subject_index is not null and destroyed_at is null;
create unique index data_keys_live_tenant on data_keys (tenant_id) where subject_index is null and destroyed_at is null;
create index data_keys_kek on data_keys (tenant_id, kek_version) where destroyed_at is null;
alter table data_keys enable row level security;
alter table data_keys force row level security;
create policy data_keys_isolation on data_keys
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update (kek_version, wrapped_key, destroyed_at) on data_keys to rampart_app;

-- Erasures by crypto-shredding, without personal data: the subject is its blind index only. Kept
-- apart from the backup archives' contents on restore: a restore re-applies every entry, so nobody
-- erased comes back (docs/security-model.md). Append-only for the application role.
create table erasure_ledger (
  tenant_id uuid not null,
  entry_id uuid not null,
  subject_index bytea not null,
  request_id text,
  at timestamptz not null,
  primary key (tenant_id, entry_id)
);
alter table erasure_ledger enable row level security;
alter table erasure_ledger force row level security;
create policy erasure_ledger_isolation on erasure_ledger
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert on erasure_ledger to rampart_app;

create table vault_records (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  collection text not null,
  record_key text not null,
  data_key_id uuid not null,
  data_sealed bytea not null,
  subject_index bytea,
  subject_sealed bytea,
  category text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, collection, record_key),
  foreign key (tenant_id, data_key_id) references data_keys (tenant_id, key_id) on delete cascade
);
create index vault_records_subject on vault_records (tenant_id, collection, subject_index, record_key) where subject_index is not null;
alter table vault_records enable row level security;
alter table vault_records force row level security;
create policy vault_records_isolation on vault_records
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update, delete on vault_records to rampart_app;

-- File metadata; the encrypted bytes live in the file store under blob_id (a new blob per upload).
create table vault_files (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  file_key text not null,
  blob_id uuid not null,
  data_key_id uuid not null,
  size_bytes bigint not null check (size_bytes >= 0),
  content_type text not null,
  subject_index bytea,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, file_key),
  foreign key (tenant_id, data_key_id) references data_keys (tenant_id, key_id) on delete cascade
);
alter table vault_files enable row level security;
alter table vault_files force row level security;
create policy vault_files_isolation on vault_files
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update, delete on vault_files to rampart_app;

-- `rampart keys rotate --all` and the rewrap job must find every tenant that has keys, without
-- reading anything else across tenants: this role sees the (tenant, version) pairs of tenant_keys
-- and nothing more, and cannot log in.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_key_maintenance') then
    create role rampart_key_maintenance nologin nobypassrls;
  end if;
  if not pg_has_role(current_user, 'rampart_key_maintenance', 'MEMBER') then
    execute format('grant rampart_key_maintenance to %I', current_user);
  end if;
end
$$;
grant usage on schema public to rampart_key_maintenance;
grant select (tenant_id, version) on tenant_keys to rampart_key_maintenance;
create policy tenant_keys_maintenance on tenant_keys for select to rampart_key_maintenance using (true);
-- The erasure ledger holds no personal data; the same role reads it whole, so a restore can replay
-- it onto the restored database (src/vault/erasure-ledger.ts).
grant select on erasure_ledger to rampart_key_maintenance;
create policy erasure_ledger_maintenance on erasure_ledger for select to rampart_key_maintenance using (true);
