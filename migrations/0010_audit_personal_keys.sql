-- The audit log's personal fields (IP, user agent, personal metadata) are encrypted under the
-- vault's data key of the entry's subject (docs/decisions/0022-audit-personal-fields-encrypted.md),
-- so crypto-shredding a subject erases them without breaking the chain. The platform chain
-- (tenant 00000000-0000-0000-0000-000000000000) has no row in `tenants` but needs keys of its
-- own, so tenant_keys loses its foreign key to tenants; a trigger still refuses a key for a tenant
-- that does not exist. (Nothing deletes a tenant row, so the foreign key's cascade had no use.)
alter table tenant_keys drop constraint tenant_keys_tenant_id_fkey;

create function rampart_check_key_tenant() returns trigger
language plpgsql security definer set search_path = pg_catalog, public as $$
begin
  if new.tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid
     and not exists (select 1 from tenants where tenant_id = new.tenant_id) then
    raise exception 'tenant key for unknown tenant' using errcode = '23503';
  end if;
  return new;
end;
$$;
create trigger tenant_keys_tenant_exists before insert on tenant_keys
  for each row execute function rampart_check_key_tenant();
