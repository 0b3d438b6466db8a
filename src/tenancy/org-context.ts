import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { principalOf } from '../identity/index.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import { findMembership, findTenant, hasConfirmedMfa } from './orgs.repository.js';
import type { TenantRow } from './orgs.repository.js';
import { mfaRequiredFor, roleAllows } from './permissions.js';
import type { Permission, Plan, Role } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';

/** The organization a request acts in, and the caller's standing in it, resolved once per request. */
export interface OrgContext {
  tenantId: string;
  role: Role;
  plan: Plan;
  org: TenantRow;
  actor: { type: 'user'; id: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    org: OrgContext | null;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * preHandler for `/v1/orgs/:org/...` (after authentication): the caller must be a member, checked
 * on every request, so a removal or demotion takes effect on the very next one. Anyone else gets
 * 404, which does not reveal that the org exists. Then the org's MFA policy applies.
 */
export function createOrgResolver(db: Kysely<DB>) {
  return async function resolveOrg(request: FastifyRequest): Promise<void> {
    const principal = principalOf(request);
    const tenantId = (request.params as { org?: string }).org ?? '';
    if (!UUID.test(tenantId)) throw tenancyErrors.not_found();
    const found = await withTenant(db, tenantId, async (trx) => ({
      org: await findTenant(trx, tenantId),
      membership: await findMembership(trx, tenantId, principal.id),
    }));
    if (!found.org || !found.membership) throw tenancyErrors.not_found();
    const { org, membership } = found;
    if (mfaRequiredFor(org.mfa_required_for, membership.role) && !(await hasConfirmedMfa(db, principal.id))) {
      throw tenancyErrors.mfa_required();
    }
    request.org = { tenantId, role: membership.role, plan: org.plan, org, actor: { type: 'user', id: principal.id } };
  };
}

/** The one authorization question every org route asks: may this caller do this, here? */
export function authorize(request: FastifyRequest, permission: Permission): OrgContext {
  const context = request.org;
  if (!context) throw tenancyErrors.not_found();
  if (!roleAllows(context.role, context.plan, permission)) throw tenancyErrors.forbidden();
  return context;
}
