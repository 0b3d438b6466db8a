-- The platform console's tenants list (GET /v1/platform/tenants): staff see each org's name, plan,
-- MFA policy, member count and how many members have MFA on, and nothing an org stores. A role of
-- its own reads exactly those columns across tenants; request queries never run as it.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'rampart_platform_reader') then
    create role rampart_platform_reader nologin nobypassrls;
  end if;
  if not pg_has_role(current_user, 'rampart_platform_reader', 'MEMBER') then
    execute format('grant rampart_platform_reader to %I', current_user);
  end if;
end
$$;

grant usage on schema public to rampart_platform_reader;
grant select (tenant_id, name, plan, mfa_required_for, created_at) on tenants to rampart_platform_reader;
grant select (tenant_id, user_id) on memberships to rampart_platform_reader;
grant select (realm, principal_id, confirmed_at) on totp_factors to rampart_platform_reader;
create policy tenants_platform_listing on tenants for select to rampart_platform_reader using (true);
create policy memberships_platform_listing on memberships for select to rampart_platform_reader using (true);
