-- Consent, retention, records of processing and whole-org exports (issue 7, second half).
-- Every table is tenant-owned (rule of 0001). Personal data (subject ids, truncated IPs and user
-- agents kept as proof of consent) is sealed under the subject's data key, so an erasure's
-- crypto-shredding reaches it too. See docs/privacy.md and docs/decisions/.

-- The org's non-secret public id: what its website embeds in the consent banner's script tag. It
-- names the org to the public consent endpoint and nothing else; it grants no access.
alter table tenants add column public_id text not null default ('org_' || replace(gen_random_uuid()::text, '-', ''));
create unique index tenants_public_id on tenants (public_id);

-- Lookups across tenants that name no tenant yet (a public id; exports past their time) run in
-- security-definer functions owned by this role, which sees those columns and nothing else. RLS is
-- forced, so not even the table owner could read them outside a tenant scope (same pattern as
-- rampart_audit_chains() in 0004).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_privacy_lookup') then
    create role rampart_privacy_lookup nologin nobypassrls;
  end if;
  if not pg_has_role(current_user, 'rampart_privacy_lookup', 'MEMBER') then
    execute format('grant rampart_privacy_lookup to %I', current_user);
  end if;
end
$$;
grant usage on schema public to rampart_privacy_lookup;
grant select (tenant_id, public_id) on tenants to rampart_privacy_lookup;
create policy tenants_public_id_lookup on tenants for select to rampart_privacy_lookup using (true);

-- The public consent endpoint knows only the public id: this function maps it to the tenant.
create function rampart_tenant_of_public_id(p_public_id text) returns uuid
  language sql
  stable
  security definer
  set search_path = pg_catalog, public
  as $$ select t.tenant_id from tenants t where t.public_id = p_public_id $$;

-- Privacy settings of an org, one row made on first change: consent purposes of its own, the web
-- origins allowed to call the public consent endpoint, retention overrides, and what the org
-- declares for its records of processing (Art. 30). Absent row = defaults.
create table privacy_settings (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  consent_purposes text[] not null default '{}',
  allowed_origins text[] not null default '{}',
  -- {"collections": {"<name>": days}, "categories": {"<category>": days}, "files": days | absent}
  retention_overrides jsonb not null default '{}',
  -- {"<collection>": {"purposes": [...], "legal_basis": "...", "categories_of_subjects": [...]}}
  processing jsonb not null default '{}',
  -- [{"name", "purpose", "country"}]: processors and other recipients the org declares.
  recipients jsonb not null default '[]',
  -- [{"country", "safeguard"}]: transfers outside the EU/EEA the org declares.
  transfers jsonb not null default '[]',
  controller jsonb not null default '{}',
  updated_at timestamptz not null default now(),
  primary key (tenant_id)
);
alter table privacy_settings enable row level security;
alter table privacy_settings force row level security;
create policy privacy_settings_isolation on privacy_settings
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on privacy_settings to rampart_app;

-- Consent records: append-only proof. The application role may insert and read, never change or
-- delete (like the audit log); the current state of a subject is their newest record.
create table consent_records (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  consent_id uuid not null,
  subject_index bytea not null,
  -- {subject_id, ip (truncated), user_agent (truncated)}, sealed under the subject's data key (the
  -- envelope names its key).
  proof_sealed bytea not null,
  purposes jsonb not null,
  source text not null check (length(source) between 1 and 64),
  policy_version text not null check (length(policy_version) between 1 and 64),
  -- The browser signal that forced an opt-out of non-essential purposes: 'gpc', 'dnt' or none.
  signal text check (signal in ('gpc', 'dnt')),
  recorded_at timestamptz not null,
  primary key (tenant_id, consent_id)
);
create index consent_records_subject on consent_records (tenant_id, subject_index, recorded_at desc);
alter table consent_records enable row level security;
alter table consent_records force row level security;
create policy consent_records_isolation on consent_records
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert on consent_records to rampart_app;

-- Legal holds: a held record (or file, collection '@files') is never deleted by retention.
create table legal_holds (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  collection text not null,
  record_key text not null,
  reason text not null check (length(reason) between 1 and 500),
  held_by uuid not null,
  held_at timestamptz not null,
  primary key (tenant_id, collection, record_key)
);
alter table legal_holds enable row level security;
alter table legal_holds force row level security;
create policy legal_holds_isolation on legal_holds
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, delete on legal_holds to rampart_app;
create index vault_records_expiry on vault_records (tenant_id, updated_at);
create index vault_files_expiry on vault_files (tenant_id, updated_at);

-- One row per org and day the retention job ran: its cutoff time, the counts so far (updated with
-- each deleted batch, in its transaction) and when it finished (with its one audit entry). A rerun
-- of the same day resumes from here, or does nothing once finished.
create table retention_runs (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  run_on text not null check (run_on ~ '^\d{4}-\d{2}-\d{2}$'),
  started_at timestamptz not null,
  records_deleted bigint not null default 0,
  files_deleted bigint not null default 0,
  finished_at timestamptz,
  primary key (tenant_id, run_on)
);
alter table retention_runs enable row level security;
alter table retention_runs force row level security;
create policy retention_runs_isolation on retention_runs
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on retention_runs to rampart_app;

-- Whole-org exports: the ZIP is an encrypted blob in the vault's file store under the tenant's
-- data key; this row says where it is, how far the job got, and until when it may be downloaded.
create table org_exports (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  export_id uuid not null,
  requested_by uuid not null,
  status text not null check (status in ('pending', 'running', 'ready', 'failed', 'expired')),
  blob_id uuid,
  size_bytes bigint,
  items_done bigint not null default 0,
  items_total bigint,
  failure text,
  created_at timestamptz not null,
  completed_at timestamptz,
  expires_at timestamptz,
  primary key (tenant_id, export_id)
);
create index org_exports_expiry on org_exports (expires_at) where status = 'ready';
alter table org_exports enable row level security;
alter table org_exports force row level security;
create policy org_exports_isolation on org_exports
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on org_exports to rampart_app;

-- The expiry job finds ready exports past their time across tenants, without reading anything
-- else: (tenant, export) pairs only.
create function rampart_expired_org_exports(p_now timestamptz) returns table (tenant_id uuid, export_id uuid)
  language sql
  stable
  security definer
  set search_path = pg_catalog, public
  as $$ select e.tenant_id, e.export_id from org_exports e where e.status = 'ready' and e.expires_at <= p_now order by e.expires_at limit 1000 $$;

grant select (tenant_id, export_id, status, expires_at) on org_exports to rampart_privacy_lookup;
create policy org_exports_expiry_listing on org_exports for select to rampart_privacy_lookup using (true);

-- Hand both functions to the lookup role, then leave it (as 0004 does with its retention role).
grant create on schema public to rampart_privacy_lookup;
alter function rampart_tenant_of_public_id(text) owner to rampart_privacy_lookup;
alter function rampart_expired_org_exports(timestamptz) owner to rampart_privacy_lookup;
revoke create on schema public from rampart_privacy_lookup;
revoke all on function rampart_tenant_of_public_id(text) from public;
revoke all on function rampart_expired_org_exports(timestamptz) from public;
grant execute on function rampart_tenant_of_public_id(text) to rampart_app;
do $$
begin
  execute format('grant execute on function rampart_tenant_of_public_id(text) to %I', current_user);
  execute format('grant execute on function rampart_expired_org_exports(timestamptz) to %I', current_user);
  if exists (
    select 1 from pg_auth_members m
    join pg_roles r on r.oid = m.roleid
    join pg_roles u on u.oid = m.member
    where r.rolname = 'rampart_privacy_lookup' and u.rolname = current_user
  ) then
    execute format('revoke rampart_privacy_lookup from %I', current_user);
  end if;
end
$$;
