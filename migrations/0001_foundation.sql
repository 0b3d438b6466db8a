-- Foundation: the unprivileged application role, tenant isolation, jobs, mail outbox, signing keys.
--
-- Tenant isolation rule (checked by test/platform/tenant-isolation.test.ts against the catalog):
-- every table with a tenant_id column has tenant_id first in its primary key and in every foreign
-- key to another tenant table, and has row-level security ENABLED and FORCED with a policy that
-- compares tenant_id to rampart_current_tenant(). Request queries run as rampart_app (no
-- BYPASSRLS), so a query that forgets the tenant sees nothing.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_app') then
    create role rampart_app nologin nobypassrls;
  end if;
  -- The migrating user must be able to SET ROLE rampart_app; a superuser already can.
  if not pg_has_role(current_user, 'rampart_app', 'MEMBER') then
    execute format('grant rampart_app to %I', current_user);
  end if;
end
$$;

grant usage on schema public to rampart_app;

-- The tenant of the current transaction, or NULL when none is set (then every policy hides all rows).
create or replace function rampart_current_tenant() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('rampart.tenant_id', true), '')::uuid $$;

grant execute on function rampart_current_tenant() to rampart_app;

create table tenants (
  tenant_id uuid primary key,
  name text not null check (length(name) between 1 and 200),
  plan text not null default 'free',
  created_at timestamptz not null default now()
);

alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenants_isolation on tenants
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
-- Column grants: the plan is the vendor's to set, never something a tenant request can change.
grant select, update (name) on tenants to rampart_app;

-- Durable job queue. Claimed with FOR UPDATE SKIP LOCKED; a running job whose lease has passed
-- is taken up again, so a crashed worker loses nothing.
create table jobs (
  id bigint generated always as identity primary key,
  name text not null,
  payload jsonb not null default '{}',
  idempotency_key text unique,
  state text not null default 'pending' check (state in ('pending', 'running', 'done', 'dead')),
  attempts integer not null default 0,
  max_attempts integer not null default 10 check (max_attempts between 1 and 100),
  run_at timestamptz not null,
  locked_by text,
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
create index jobs_due on jobs (run_at) where state = 'pending';
create index jobs_leased on jobs (locked_until) where state = 'running';

create table job_schedules (
  name text primary key,
  cron text not null,
  job_name text not null,
  payload jsonb not null default '{}',
  next_run_at timestamptz not null
);

-- Development mail sink, used only when no SMTP server is configured. One row per mail.send job:
-- a job delivered twice (at-least-once) still shows its mail once.
create table mail_outbox (
  id bigint generated always as identity primary key,
  job_id bigint not null unique,
  to_address text not null,
  subject text not null,
  body_text text not null,
  created_at timestamptz not null default now()
);

-- Ed25519 signing keys; the private half is sealed under the root key and never stored in clear.
create table signing_keys (
  kid text primary key,
  purpose text not null,
  public_jwk jsonb not null,
  private_key_sealed bytea not null,
  created_at timestamptz not null default now(),
  retired_at timestamptz
);

-- Services enqueue jobs inside their tenant-scoped transaction (running as rampart_app), so the job
-- commits with the action or not at all. They may add jobs, never read or change the queue.
grant insert on jobs to rampart_app;
grant select (id) on jobs to rampart_app;
