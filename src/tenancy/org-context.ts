import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { principalOf } from '../identity/index.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import { findMembership, findTenant, hasConfirmedMfa } from './orgs.repository.js';
import type { TenantRow } from './orgs.repository.js';
import type { RateLimiter } from '../platform/http/index.js';
import { API_KEY_PREFIX } from './api-key-format.js';
import type { ApiKeys } from './api-keys.service.js';
import { effectiveMfaPolicy, mfaRequiredFor, roleAllows, scopesAllow } from './permissions.js';
import type { Permission, Plan, PlanPolicy, Role, Scope } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';

/** Who acts: a signed-in member, or an org API key with its scopes. */
export type OrgActor = { type: 'user'; id: string } | { type: 'api_key'; id: string; scopes: readonly Scope[] };

/** The organization a request acts in, and the caller's standing in it, resolved once per request. */
export interface OrgContext {
  tenantId: string;
  /**
   * The member's role. A key holds no role: `authorize` checks its scopes alone, and it carries
   * the weakest role so that any role check a service adds fails closed for it.
   */
  role: Role;
  /** The org's plan, as configured: what it switches off and its MFA minimum. */
  plan: PlanPolicy;
  org: TenantRow;
  actor: OrgActor;
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
 * 404, which does not reveal that the org exists. Then the org's MFA policy applies (the stricter
 * of the org's own setting and its plan's minimum).
 */
export function createOrgResolver(db: Kysely<DB>, plans: Readonly<Record<Plan, PlanPolicy>>) {
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
    const plan = plans[org.plan];
    if (mfaRequiredFor(effectiveMfaPolicy(org.mfa_required_for, plan), membership.role) && !(await hasConfirmedMfa(db, principal.id))) {
      throw tenancyErrors.mfa_required();
    }
    request.org = { tenantId, role: membership.role, plan, org, actor: { type: 'user', id: principal.id } };
  };
}

type PreHandler = (request: FastifyRequest) => Promise<void>;

const KEY_BEARER = `Bearer ${API_KEY_PREFIX}`;

/**
 * preHandler for org routes an API key may also call: `Bearer rk_...` is verified against the
 * org of the URL on every request (no cache: a revoked key fails at once on every node), then
 * draws from its own per-key rate limit; any other bearer goes through the user path unchanged.
 * Routes that manage the org keep `[requireUser, resolveOrg]`, so a key never reaches them.
 */
export function createUserOrKeyResolver(deps: {
  requireUser: PreHandler;
  resolveOrg: PreHandler;
  apiKeys: ApiKeys;
  rateLimiter: RateLimiter;
  plans: Readonly<Record<Plan, PlanPolicy>>;
}): PreHandler {
  return async function requireUserOrKey(request: FastifyRequest): Promise<void> {
    const authorization = request.headers.authorization ?? '';
    if (!authorization.startsWith(KEY_BEARER)) {
      await deps.requireUser(request);
      await deps.resolveOrg(request);
      return;
    }
    const tenantId = (request.params as { org?: string }).org ?? '';
    const key = await deps.apiKeys.authenticate(tenantId, authorization.slice('Bearer '.length));
    // After verification, so nobody can drain a key's allowance by sending its id with a bad secret.
    await deps.rateLimiter.consume('account', `api_key:${key.keyId}`);
    request.org = { tenantId, role: 'member', plan: deps.plans[key.org.plan], org: key.org, actor: { type: 'api_key', id: key.keyId, scopes: key.scopes } };
  };
}

/** The one authorization question every org route asks: may this caller do this, here? */
export function authorize(request: FastifyRequest, permission: Permission): OrgContext {
  const context = request.org;
  if (!context) throw tenancyErrors.not_found();
  const { actor } = context;
  const allowed = actor.type === 'api_key' ? scopesAllow(actor.scopes, context.plan, permission) : roleAllows(context.role, context.plan, permission);
  if (!allowed) throw tenancyErrors.forbidden(actor.type === 'api_key' ? 'This API key has no scope that allows this' : undefined);
  return context;
}
