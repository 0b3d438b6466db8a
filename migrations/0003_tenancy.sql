-- Tenancy: organization settings, memberships with roles, invitations, API keys.
-- Every table here is tenant-owned and follows the isolation rule of 0001 (tenant_id first in the
-- primary key and in foreign keys between tenant tables, RLS enabled and forced).

alter table tenants
  add column mfa_required_for text not null default 'none' check (mfa_required_for in ('none', 'owners', 'admins', 'all')),
  add column invite_only boolean not null default false,
  add column retention_days integer not null default 90 check (retention_days between 1 and 3650),
  add column erasure_grace_days integer not null default 30 check (erasure_grace_days between 0 and 90),
  add column updated_at timestamptz not null default now();

-- Creating an org happens inside its own tenant scope (the new id is set before the insert), so the
-- application role may insert, and the policy's WITH CHECK still binds the row to that tenant.
-- Settings are updatable column by column; the plan is not among them.
grant insert on tenants to rampart_app;
grant update (mfa_required_for, invite_only, retention_days, erasure_grace_days, updated_at) on tenants to rampart_app;

create table memberships (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
create index memberships_user on memberships (user_id);
alter table memberships enable row level security;
alter table memberships force row level security;
create policy memberships_isolation on memberships
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update, delete on memberships to rampart_app;
-- No grant on users: the application role must not read accounts across tenants. Member lists
-- read memberships in the tenant scope, then the named users by id outside it.

create table invitations (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  invitation_id uuid not null,
  email text not null,
  role text not null check (role in ('owner', 'admin', 'member')),
  token_hash bytea not null,
  invited_by uuid not null,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by uuid,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, invitation_id),
  unique (tenant_id, token_hash)
);
alter table invitations enable row level security;
alter table invitations force row level security;
create policy invitations_isolation on invitations
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on invitations to rampart_app;

create table api_keys (
  tenant_id uuid not null references tenants (tenant_id) on delete cascade,
  key_id uuid not null,
  name text not null check (length(name) between 1 and 100),
  scopes text[] not null,
  key_hash bytea not null,
  created_by uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  primary key (tenant_id, key_id)
);
alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_isolation on api_keys
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert, update on api_keys to rampart_app;

-- Org actions record their security event in the same tenant-scoped transaction. Insert only: the
-- application role never reads or changes the history (the audit issue moves org events into
-- per-tenant chains).
grant insert on security_events to rampart_app;

-- A user's own view across tenants (their org list at /v1/me): in a user-scoped transaction
-- (rampart.user_id set, no tenant) the application role sees that user's memberships and the orgs
-- they belong to, read-only, and nothing else. These policies add to the tenant policies above
-- (permissive policies are OR-ed); in a tenant-scoped transaction no user is set and they match
-- nothing. The subquery on memberships is itself filtered by memberships' policies.
create or replace function rampart_current_user() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('rampart.user_id', true), '')::uuid $$;
grant execute on function rampart_current_user() to rampart_app;

create policy memberships_own on memberships for select
  using (user_id = rampart_current_user());
create policy tenants_of_member on tenants for select
  using (exists (select 1 from memberships m where m.tenant_id = tenants.tenant_id and m.user_id = rampart_current_user()));
