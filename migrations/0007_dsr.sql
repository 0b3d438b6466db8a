-- Data-subject requests, subject flags, the suppression list and org webhooks.
-- Every table is tenant-owned (rule of 0001). No column holds a subject id, an email address or a
-- webhook secret in the clear: subjects are the vault's blind index (keyed HMAC) plus, where the
-- request must show the id back, an AES-256-GCM seal; emails are keyed hashes; secrets are sealed
-- under the secrets hierarchy. See docs/privacy.md.

-- Flags on a data subject that the vault's records and files services check on every access:
-- erased (answers 404 at once, before the rows and keys are gone), restricted (Art. 18: reads
-- refused except owners with a reason), objected (Art. 21: no further processing, writes refused).
create table subject_flags (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  subject_index bytea not null,
  erased_at timestamptz,
  restricted_at timestamptz,
  objected_at timestamptz,
  updated_at timestamptz not null,
  primary key (tenant_id, subject_index)
);
alter table subject_flags enable row level security;
alter table subject_flags force row level security;
create policy subject_flags_isolation on subject_flags
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update, delete on subject_flags to rampart_app;

create table dsr_requests (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  request_id uuid not null,
  type text not null check (type in ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection')),
  subject_index bytea not null,
  subject_sealed bytea not null,
  status text not null check (status in ('received', 'in_progress', 'completed', 'rejected')),
  -- Rectification's corrections, sealed; dropped when the request closes.
  details_sealed bytea,
  -- Objection's address, as the suppression list's keyed hash.
  email_hash bytea,
  rejection_reason text check (rejection_reason is null or length(rejection_reason) between 1 and 2000),
  received_at timestamptz not null,
  due_at timestamptz not null,
  extension_reason text check (extension_reason is null or length(extension_reason) between 1 and 2000),
  closed_at timestamptz,
  -- Erasure: when the grace period ends, and the signed receipt once done.
  erase_after timestamptz,
  receipt jsonb,
  created_by_type text not null,
  created_by_id text not null,
  primary key (tenant_id, request_id),
  check ((status = 'rejected') = (rejection_reason is not null))
);
-- One open request of a type per subject (409 for a duplicate).
create unique index dsr_requests_open on dsr_requests (tenant_id, subject_index, type) where status in ('received', 'in_progress');
create index dsr_requests_due on dsr_requests (tenant_id, due_at) where status in ('received', 'in_progress');
create index dsr_requests_received on dsr_requests (tenant_id, received_at desc, request_id desc);
alter table dsr_requests enable row level security;
alter table dsr_requests force row level security;
create policy dsr_requests_isolation on dsr_requests
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on dsr_requests to rampart_app;

-- A request's history, one row per step. `previous_sealed` keeps a rectified record's old version
-- while the request is open, and is set to null when it closes.
create table dsr_history (
  tenant_id uuid not null,
  request_id uuid not null,
  seq integer not null,
  at timestamptz not null,
  event text not null,
  actor_type text not null,
  actor_id text,
  detail jsonb not null default '{}',
  previous_sealed bytea,
  primary key (tenant_id, request_id, seq),
  foreign key (tenant_id, request_id) references dsr_requests (tenant_id, request_id) on delete cascade
);
alter table dsr_history enable row level security;
alter table dsr_history force row level security;
create policy dsr_history_isolation on dsr_history
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update (previous_sealed) on dsr_history to rampart_app;

-- The opt-out list: HMAC-SHA256 of the normalized address under a per-tenant key derived from the root.
create table suppressions (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  email_hash bytea not null,
  source text not null check (source in ('api', 'objection')),
  request_id uuid,
  created_at timestamptz not null,
  primary key (tenant_id, email_hash)
);
alter table suppressions enable row level security;
alter table suppressions force row level security;
create policy suppressions_isolation on suppressions
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, delete on suppressions to rampart_app;

create table webhook_endpoints (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  endpoint_id uuid not null,
  url text not null check (length(url) <= 2048),
  events text[] not null,
  secret_sealed bytea not null,
  created_by text not null,
  created_at timestamptz not null,
  -- Deleted endpoints stay for their delivery log (an erasure receipt cites it); they get no new deliveries.
  deleted_at timestamptz,
  primary key (tenant_id, endpoint_id)
);
alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy webhook_endpoints_isolation on webhook_endpoints
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update (deleted_at) on webhook_endpoints to rampart_app;

-- One event sent to every subscribed endpoint; its body is sealed (it may name a data subject)
-- and dropped once every delivery of it has settled (delivered, given up, or endpoint deleted).
create table webhook_events (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  event_id uuid not null,
  type text not null,
  body_sealed bytea,
  pending_deliveries integer not null check (pending_deliveries >= 0),
  request_id uuid,
  created_at timestamptz not null,
  primary key (tenant_id, event_id)
);
alter table webhook_events enable row level security;
alter table webhook_events force row level security;
create policy webhook_events_isolation on webhook_events
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update (body_sealed, pending_deliveries) on webhook_events to rampart_app;

-- Every delivery attempt: status code or error class, duration; never the body or the secret.
create table webhook_deliveries (
  tenant_id uuid not null,
  endpoint_id uuid not null,
  event_id uuid not null,
  attempt integer not null check (attempt >= 1),
  at timestamptz not null,
  status_code integer,
  error text check (error is null or length(error) <= 200),
  duration_ms integer not null,
  delivered boolean not null,
  primary key (tenant_id, endpoint_id, event_id, attempt),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, endpoint_id) on delete cascade,
  foreign key (tenant_id, event_id) references webhook_events (tenant_id, event_id) on delete cascade
);
create index webhook_deliveries_recent on webhook_deliveries (tenant_id, endpoint_id, at desc);
alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy webhook_deliveries_isolation on webhook_deliveries
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert on webhook_deliveries to rampart_app;

-- A subject's data across collections, for access exports and erasure (the vault's own index is per collection).
create index vault_records_by_subject on vault_records (tenant_id, subject_index, collection, record_key) where subject_index is not null;
create index vault_files_by_subject on vault_files (tenant_id, subject_index, file_key) where subject_index is not null;

-- The daily deadline reminder must find the orgs with open requests near their deadline without a
-- tenant scope: this role sees dsr_requests' tenant, status and deadline only, and the function
-- below (running as it) returns tenant ids, nothing of a request (pattern of 0004's rampart_audit_chains).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_dsr_deadlines') then
    create role rampart_dsr_deadlines nologin nobypassrls;
  end if;
  if not pg_has_role(current_user, 'rampart_dsr_deadlines', 'MEMBER') then
    execute format('grant rampart_dsr_deadlines to %I', current_user);
  end if;
end
$$;
grant usage on schema public to rampart_dsr_deadlines;
grant select (tenant_id, status, due_at) on dsr_requests to rampart_dsr_deadlines;
create policy dsr_requests_deadlines on dsr_requests for select to rampart_dsr_deadlines using (true);

create function rampart_dsr_tenants_due(p_before timestamptz) returns table (tenant_id uuid)
  language sql
  stable
  security definer
  set search_path = pg_catalog, public
  as $$ select distinct r.tenant_id from dsr_requests r where r.status in ('received', 'in_progress') and r.due_at < p_before order by r.tenant_id $$;
-- The new owner needs CREATE on the schema at the moment of the hand-over, and only then (0004).
grant create on schema public to rampart_dsr_deadlines;
alter function rampart_dsr_tenants_due(timestamptz) owner to rampart_dsr_deadlines;
revoke create on schema public from rampart_dsr_deadlines;
-- Only the connection role (the reminder job) may ask which orgs have requests due; not rampart_app.
revoke all on function rampart_dsr_tenants_due(timestamptz) from public;
do $$
begin
  execute format('grant execute on function rampart_dsr_tenants_due(timestamptz) to %I', current_user);
end
$$;
