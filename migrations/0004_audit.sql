-- Audit log: one append-only, hash-chained chain per tenant (plus the platform chain, tenant_id
-- 00000000-0000-0000-0000-000000000000), whose entries are also the leaves of an RFC 9162 Merkle
-- tree; signed tree heads (checkpoints) pin it. No foreign key to tenants: the log must outlive
-- the deletion of the org it describes. See docs/decisions/0014-audit-chain.md.

-- The head of each chain: appends lock this row FOR UPDATE, so they are serialized per chain and
-- never across chains. size is the next seq (seq is 0-based); frontier holds the roots of the
-- perfect subtrees of the decomposition of size, largest first (src/audit/merkle.ts). The
-- archived_* columns describe the prefix retention removed; verification starts from them.
create table audit_heads (
  tenant_id uuid primary key,
  size bigint not null default 0 check (size >= 0),
  head_hash bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
  frontier bytea[] not null default '{}',
  archived_size bigint not null default 0 check (archived_size >= 0 and archived_size <= size),
  archived_prev_hash bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
  archived_frontier bytea[] not null default '{}',
  updated_at timestamptz not null default now()
);
alter table audit_heads enable row level security;
alter table audit_heads force row level security;
create policy audit_heads_isolation on audit_heads
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
-- The first append creates the head; later ones advance it. The archived boundary is the retention
-- function's alone.
-- (The insert names the chain only: a head created with an archived boundary would be retention's act.)
grant select, insert (tenant_id), update (size, head_hash, frontier, updated_at) on audit_heads to rampart_app;

-- hash = SHA-256 of the RFC 8785 canonical JSON of the entry with prev_hash (src/audit/canonical.ts).
-- personal holds the personal fields (ip, user agent, personal metadata) apart from metadata, as
-- stored bytes the hash covers, so encrypting or erasing them per data subject stays local to it.
-- tree_nodes[L] (1-based) is the Merkle node of height L this leaf completed: proofs need no
-- other table.
create table audit_entries (
  tenant_id uuid not null,
  seq bigint not null check (seq >= 0),
  id uuid not null,
  at timestamptz not null,
  action text not null check (length(action) between 1 and 100),
  actor_type text not null check (actor_type in ('user', 'api_key', 'platform', 'system')),
  actor_id text,
  target_type text,
  target_id text,
  request_id text,
  metadata jsonb not null default '{}',
  personal bytea,
  subject_id text,
  prev_hash bytea not null check (length(prev_hash) = 32),
  hash bytea not null check (length(hash) = 32),
  tree_nodes bytea[] not null default '{}',
  primary key (tenant_id, seq)
);
create unique index audit_entries_id on audit_entries (tenant_id, id);
-- The list filters, each newest first: action (exact or prefix with LIKE 'member.%'), actor,
-- target, time range; the subject for data-subject requests.
create index audit_entries_action on audit_entries (tenant_id, action text_pattern_ops, seq desc);
create index audit_entries_actor on audit_entries (tenant_id, actor_id, seq desc);
create index audit_entries_target on audit_entries (tenant_id, target_id, seq desc);
create index audit_entries_at on audit_entries (tenant_id, at);
create index audit_entries_subject on audit_entries (tenant_id, subject_id) where subject_id is not null;
alter table audit_entries enable row level security;
alter table audit_entries force row level security;
create policy audit_entries_isolation on audit_entries
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert on audit_entries to rampart_app;

-- Signed tree heads {tenant, size, root, time}, Ed25519 with the 'audit-checkpoint' key.
create table audit_checkpoints (
  tenant_id uuid not null,
  size bigint not null check (size > 0),
  root bytea not null check (length(root) = 32),
  at timestamptz not null,
  signature bytea not null,
  key_id text not null,
  primary key (tenant_id, size)
);
alter table audit_checkpoints enable row level security;
alter table audit_checkpoints force row level security;
create policy audit_checkpoints_isolation on audit_checkpoints
  using (tenant_id = rampart_current_tenant())
  with check (tenant_id = rampart_current_tenant());
grant select, insert on audit_checkpoints to rampart_app;

-- The only role allowed to delete entries: it owns the retention function below and nothing else,
-- and cannot log in.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_audit_retention') then
    create role rampart_audit_retention nologin nobypassrls;
  end if;
  -- Handing the function to the role requires membership (a superuser already has it).
  if not pg_has_role(current_user, 'rampart_audit_retention', 'MEMBER') then
    execute format('grant rampart_audit_retention to %I', current_user);
  end if;
end
$$;
grant usage on schema public to rampart_audit_retention;
grant select, delete on audit_entries to rampart_audit_retention;
grant select, update (archived_size, archived_prev_hash, archived_frontier, updated_at) on audit_heads to rampart_audit_retention;
grant select on audit_checkpoints to rampart_audit_retention;
-- Jobs and the CLI walk every chain (checkpoints, retention, verify). The table owner sees no
-- head outside a tenant scope (RLS is forced), so the list comes from rampart_audit_chains()
-- below, running as this role, which may read the heads (ids and sizes, nothing of an entry).
create policy audit_heads_listing on audit_heads for select to rampart_audit_retention using (true);

-- Append-only in the database itself, for every role including the owner: entries and checkpoints
-- are never updated or truncated, and entries are deleted only by the retention function (running
-- as its owner). A superuser or the table owner can still disable the trigger: externally kept
-- checkpoints are what catches a rewrite by them (docs/security-model.md).
create function rampart_audit_refuse_change() returns trigger
  language plpgsql
  as $$
begin
  if tg_op = 'DELETE' and tg_table_name = 'audit_entries' and current_user = 'rampart_audit_retention' then
    return null;
  end if;
  raise exception 'the audit log is append-only: % on % refused', tg_op, tg_table_name
    using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_entries_append_only before update or delete or truncate on audit_entries
  for each statement execute function rampart_audit_refuse_change();
create trigger audit_checkpoints_append_only before update or delete or truncate on audit_checkpoints
  for each statement execute function rampart_audit_refuse_change();

-- A head only moves forward: its size never shrinks, it is never deleted, and the archived
-- boundary only changes through the retention function.
create function rampart_audit_head_forward() returns trigger
  language plpgsql
  as $$
begin
  if tg_op <> 'UPDATE' then
    raise exception 'audit heads are never removed: % refused', tg_op using errcode = 'insufficient_privilege';
  end if;
  if new.size < old.size or new.archived_size < old.archived_size then
    raise exception 'an audit head only moves forward' using errcode = 'insufficient_privilege';
  end if;
  if (new.archived_size, new.archived_prev_hash, new.archived_frontier) is distinct from (old.archived_size, old.archived_prev_hash, old.archived_frontier)
     and current_user <> 'rampart_audit_retention' then
    raise exception 'the archived boundary changes only through retention' using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
create trigger audit_heads_forward before update on audit_heads
  for each row execute function rampart_audit_head_forward();
create trigger audit_heads_kept before delete or truncate on audit_heads
  for each statement execute function rampart_audit_head_forward();

-- Every chain with its size and archived boundary, in tenant order.
create function rampart_audit_chains() returns table (tenant_id uuid, size bigint, archived_size bigint)
  language sql
  stable
  security definer
  set search_path = pg_catalog, public
  as $$ select h.tenant_id, h.size, h.archived_size from audit_heads h order by h.tenant_id $$;

-- Retention: removes the entries of one chain below `below` after recording the boundary (the
-- hash of entry below-1 and the Merkle frontier at size below), so what remains still verifies.
-- The boundary must be a signed checkpoint. The frontier is computed here from the stored tree
-- nodes, not taken from the caller; nodes stored in entries archived earlier come from the
-- previous boundary's frontier (they are exactly its leading nodes). Calling it again with the
-- same boundary changes nothing. Returns the number of entries removed.
create function rampart_audit_archive(p_tenant uuid, p_below bigint) returns bigint
  language plpgsql
  security definer
  set search_path = pg_catalog, public
  as $$
declare
  -- Put back before returning, so the function's tenant scope does not leak to the caller (a
  -- `SET rampart.tenant_id` clause would do it, but only a superuser may create one).
  caller_tenant text := coalesce(current_setting('rampart.tenant_id', true), '');
  head audit_heads;
  boundary_hash bytea;
  boundary_frontier bytea[] := '{}';
  node bytea;
  offset_ bigint := 0;
  position_ integer := 0;
  level_ integer;
  stored_at bigint;
  removed bigint;
begin
  perform set_config('rampart.tenant_id', p_tenant::text, true);
  select * into head from audit_heads where tenant_id = p_tenant for update;
  if not found then
    raise exception 'no audit chain for tenant %', p_tenant;
  end if;
  if p_below <= head.archived_size then
    perform set_config('rampart.tenant_id', caller_tenant, true);
    return 0;
  end if;
  if p_below > head.size then
    raise exception 'cannot archive beyond the head (size %)', head.size;
  end if;
  if not exists (select 1 from audit_checkpoints where tenant_id = p_tenant and size = p_below) then
    raise exception 'the boundary % is not a signed checkpoint', p_below;
  end if;
  select hash into boundary_hash from audit_entries where tenant_id = p_tenant and seq = p_below - 1;
  if boundary_hash is null then
    raise exception 'entry % is missing', p_below - 1;
  end if;
  for level_ in reverse 62..0 loop
    if (p_below >> level_) & 1 = 1 then
      position_ := position_ + 1;
      stored_at := offset_ + (1::bigint << level_) - 1;
      if stored_at < head.archived_size then
        node := head.archived_frontier[position_];
      elsif level_ = 0 then
        select sha256('\x00'::bytea || hash) into node from audit_entries where tenant_id = p_tenant and seq = stored_at;
      else
        select tree_nodes[level_] into node from audit_entries where tenant_id = p_tenant and seq = stored_at;
      end if;
      if node is null then
        raise exception 'Merkle node at level % of entry % is missing', level_, stored_at;
      end if;
      boundary_frontier := boundary_frontier || node;
      offset_ := offset_ + (1::bigint << level_);
    end if;
  end loop;
  update audit_heads
    set archived_size = p_below, archived_prev_hash = boundary_hash, archived_frontier = boundary_frontier, updated_at = now()
    where tenant_id = p_tenant;
  delete from audit_entries where tenant_id = p_tenant and seq < p_below;
  get diagnostics removed = row_count;
  perform set_config('rampart.tenant_id', caller_tenant, true);
  return removed;
end
$$;
-- The new owner needs CREATE on the schema at the moment of the hand-over, and only then.
grant create on schema public to rampart_audit_retention;
alter function rampart_audit_archive(uuid, bigint) owner to rampart_audit_retention;
alter function rampart_audit_chains() owner to rampart_audit_retention;
revoke create on schema public from rampart_audit_retention;
revoke all on function rampart_audit_chains() from public;
revoke all on function rampart_audit_archive(uuid, bigint) from public;
-- The hand-over done, a migrating user that is not a superuser leaves the role again: otherwise
-- anyone with the service's credentials could SET ROLE to it and delete entries outside the
-- function. It keeps the right to call both functions, which the jobs and the CLI do.
do $$
begin
  execute format('grant execute on function rampart_audit_chains() to %I', current_user);
  execute format('grant execute on function rampart_audit_archive(uuid, bigint) to %I', current_user);
  if exists (
    select 1 from pg_auth_members m
    join pg_roles r on r.oid = m.roleid
    join pg_roles u on u.oid = m.member
    where r.rolname = 'rampart_audit_retention' and u.rolname = current_user
  ) then
    execute format('revoke rampart_audit_retention from %I', current_user);
  end if;
end
$$;
