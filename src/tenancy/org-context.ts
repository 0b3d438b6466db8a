import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { principalOf } from '../identity/index.js';
import type { Principal } from '../identity/index.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { lockTenant, readStanding } from './orgs.repository.js';
import type { Standing, TenantRow } from './orgs.repository.js';
import type { RateLimiter } from '../platform/http/index.js';
import { API_KEY_PREFIX } from './api-key-format.js';
import type { ApiKeys } from './api-keys.service.js';
import { effectiveMfaPolicy, mfaRequiredFor, roleAllows, scopesAllow } from './permissions.js';
import type { Permission, Plan, PlanPolicy, Role, Scope } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';

/** Who acts: a signed-in member, or an org API key with its scopes. */
export type OrgActor = { type: 'user'; id: string } | { type: 'api_key'; id: string; scopes: readonly Scope[] };

/** The organization a request acts in, and the caller's standing in it, read for this request (never cached across requests). */
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
 * The caller's context from their standing: anyone who is not a member gets 404, which does not
 * reveal that the org exists; then the org's MFA policy applies (the stricter of the org's own
 * setting and its plan's minimum).
 */
function userContextOf(standing: Standing | undefined, principal: Principal, plans: Readonly<Record<Plan, PlanPolicy>>): OrgContext {
  if (!standing?.role) throw tenancyErrors.not_found();
  const { role, ...org } = standing;
  const plan = plans[org.plan];
  if (mfaRequiredFor(effectiveMfaPolicy(org.mfa_required_for, plan), role) && !principal.mfaEnabled) throw tenancyErrors.mfa_required();
  return { tenantId: org.tenant_id, role, plan, org, actor: { type: 'user', id: principal.id } };
}

function tenantOf(request: FastifyRequest): string {
  const tenantId = (request.params as { org?: string }).org ?? '';
  if (!UUID.test(tenantId)) throw tenancyErrors.not_found();
  return tenantId;
}

/**
 * preHandler for `/v1/orgs/:org/...` (after authentication): the caller must be a member, checked
 * on every request, so a removal or demotion takes effect on the very next one. For routes that
 * then only read; a route that changes something runs in an `OrgScope`, which checks again inside
 * its own transaction.
 */
export function createOrgResolver(db: Kysely<DB>, plans: Readonly<Record<Plan, PlanPolicy>>) {
  return async function resolveOrg(request: FastifyRequest): Promise<void> {
    const principal = principalOf(request);
    const tenantId = tenantOf(request);
    request.org = userContextOf(await withTenant(db, tenantId, (trx) => readStanding(trx, tenantId, principal.id)), principal, plans);
  };
}

/** Runs a route's work in the org's tenant transaction, with the caller's standing read and checked inside it. */
export type OrgScope = <T>(work: (trx: TenantTransaction, context: OrgContext) => Promise<T>, options?: { lock?: boolean }) => Promise<T>;

/**
 * Org scopes for routes: the caller's standing (org row and membership, one statement) is read in
 * the same tenant transaction as the route's own work, then checked (404, MFA policy, permission)
 * before the work runs. One transaction per request instead of one to check and one to act, and no
 * gap between the two: with `lock`, for every change that depends on roles, the org row is locked
 * before the role is read, and every role change takes the same lock, so a demotion or removal
 * committed after the request began is what the check sees (time-of-check to time-of-use).
 * A verified API key (its own transaction, see createUserOrKeyResolver) is checked by its scopes.
 */
export function createOrgScopes(db: Kysely<DB>, plans: Readonly<Record<Plan, PlanPolicy>>) {
  return function scopeOf(request: FastifyRequest, permission: Permission): OrgScope {
    return async (work, options = {}) => {
      const tenantId = tenantOf(request);
      return withTenant(db, tenantId, async (trx) => {
        // The lock, then the read in a statement of its own: under READ COMMITTED a statement that
        // waited for a row lock would still see the rows it joins as they were when it started.
        if (options.lock) await lockTenant(trx, tenantId);
        if (request.org?.actor.type !== 'api_key') {
          const principal = principalOf(request);
          request.org = userContextOf(await readStanding(trx, tenantId, principal.id), principal, plans);
        }
        return work(trx, authorize(request, permission));
      });
    };
  };
}

export type OrgScopes = ReturnType<typeof createOrgScopes>;

type PreHandler = (request: FastifyRequest) => Promise<void>;

const KEY_BEARER = `Bearer ${API_KEY_PREFIX}`;

/**
 * preHandler for org routes an API key may also call: `Bearer rk_...` is verified against the
 * org of the URL on every request (no cache: a revoked key fails at once on every node), then
 * draws from its own per-key rate limit; any other bearer goes through `user` unchanged (for
 * other modules' routes, authentication then `resolveOrg`; for tenancy's own, authentication only,
 * as their scope checks the member). Routes that manage the org take users only, so a key never
 * reaches them.
 */
export function createUserOrKeyResolver(deps: {
  user: PreHandler;
  apiKeys: ApiKeys;
  rateLimiter: RateLimiter;
  plans: Readonly<Record<Plan, PlanPolicy>>;
}): PreHandler {
  return async function requireUserOrKey(request: FastifyRequest): Promise<void> {
    const authorization = request.headers.authorization ?? '';
    if (!authorization.startsWith(KEY_BEARER)) {
      await deps.user(request);
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
  if (!allows(context, permission)) throw tenancyErrors.forbidden(context.actor.type === 'api_key' ? 'This API key has no scope that allows this' : undefined);
  return context;
}

/** Whether the caller holds `permission` (its role, or a key's scopes, within the org's plan); for what a route shows, not whether it runs. */
export function allows(context: OrgContext, permission: Permission): boolean {
  const { actor } = context;
  return actor.type === 'api_key' ? scopesAllow(actor.scopes, context.plan, permission) : roleAllows(context.role, context.plan, permission);
}
