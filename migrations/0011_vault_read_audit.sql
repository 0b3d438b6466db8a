-- How reads of a vault collection's personal data are audited (docs/decisions/0028-vault-read-audit-modes.md):
-- every read (the default), a random sample of reads, or hourly counts per reader. Tenant-owned.
create table vault_collection_settings (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  collection text not null,
  read_audit text not null check (read_audit in ('every', 'sampled', 'aggregated')),
  sample_percent integer check (sample_percent between 1 and 99),
  updated_at timestamptz not null,
  primary key (tenant_id, collection),
  check ((read_audit = 'sampled') = (sample_percent is not null))
);
alter table vault_collection_settings enable row level security;
alter table vault_collection_settings force row level security;
create policy vault_collection_settings_isolation on vault_collection_settings
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on vault_collection_settings to rampart_app;

-- Reads of an aggregated collection, counted per reader and hour in the read's own transaction
-- (a crash loses no count); a job turns each closed hour into one audit entry and deletes its row.
create table vault_read_counts (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  collection text not null,
  actor_type text not null,
  actor_id text not null,
  hour timestamptz not null,
  reads bigint not null check (reads > 0),
  primary key (tenant_id, collection, actor_type, actor_id, hour)
);
alter table vault_read_counts enable row level security;
alter table vault_read_counts force row level security;
create policy vault_read_counts_isolation on vault_read_counts
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update, delete on vault_read_counts to rampart_app;
