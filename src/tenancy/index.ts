import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConfigError } from '../config.js';
import { deriveKey } from '../crypto/root-key.js';
import type { Principal } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Mailer } from '../platform/mail/index.js';
import { apiKeyRoutes } from './api-keys.routes.js';
import { createApiKeys } from './api-keys.service.js';
import { createClaimedAccountGrants } from './claimed-accounts.js';
import { invitationRoutes } from './invitations.routes.js';
import { createInvitations } from './invitations.service.js';
import { createOrgResolver, createOrgScopes, createUserOrKeyResolver } from './org-context.js';
import { orgRoutes } from './orgs.routes.js';
import { createOrgs } from './orgs.service.js';
import { parsePlanPolicies } from './permissions.js';
import type { Plan, PlanPolicy } from './permissions.js';

export { allows, authorize } from './org-context.js';
export { recordOrgAction } from './org-audit.js';
export type { OrgContext } from './org-context.js';
export type { Permission, Role } from './permissions.js';
export { ROLE_PERMISSIONS } from './permissions.js';
/** GET /v1/platform/tenants for the platform console (registered with identity's platform preHandler). */
export { platformTenantRoutes } from './platform-tenants.routes.js';

/** Builds the tenancy module: organizations, roles and members. */
export function createTenancy(deps: { database: Database; clock: Clock; mailer: Mailer; jobs: JobQueue; publicUrl: string; rootKey: Buffer; plansJson: string | null }) {
  const db = deps.database.db;
  const plans = readPlans(deps.plansJson);
  const orgs = createOrgs({ db, clock: deps.clock });
  const invitations = createInvitations({ db, clock: deps.clock, mailer: deps.mailer, publicUrl: deps.publicUrl, tokenHashKey: deriveKey(deps.rootKey, 'invitation-tokens'), plans });
  const resolveOrg = createOrgResolver(db, plans);
  const scopeOf = createOrgScopes(db, plans);
  return {
    /** The orgs a user belongs to, with their role (for /v1/me). */
    orgsOf: (userId: string) => orgs.orgsOf(userId),
    /** Orgs a user is the only owner of; identity refuses to delete such an account. */
    soleOwnerOrgs: (userId: string) => orgs.soleOwnerOrgs(userId),
    /** preHandler resolving `:org` for routes of other modules (after authentication). */
    resolveOrg,
    /** Queues, in identity's account-claim transaction, the revocation of the squatter's org API keys and invitations. */
    revokeGrantsOfClaimedAccount: createClaimedAccountGrants({ db, clock: deps.clock, jobs: deps.jobs }),
    /** Whether a token is a pending invitation for this (normalized) email; identity's invite-only sign-up asks. */
    isInvited: (token: string, email: string) => invitations.isInvited(token, email),
    async register(
      app: FastifyInstance,
      requireUser: (request: FastifyRequest) => Promise<void>,
      stepUp: (principal: Principal, password: string | undefined, meta: RequestMeta) => Promise<void>,
    ): Promise<{ requireUserOrKey: (request: FastifyRequest) => Promise<void> }> {
      app.decorateRequest('org', null);
      const apiKeys = createApiKeys({ db, clock: deps.clock, pepper: deriveKey(deps.rootKey, 'api-key-pepper'), stepUp, plans });
      const keyPath = { apiKeys, rateLimiter: app.rateLimiter, plans };
      const requireUserOrKey = createUserOrKeyResolver({
        user: async (request) => {
          await requireUser(request);
          await resolveOrg(request);
        },
        ...keyPath,
      });
      // Tenancy's own routes check the caller inside each route's transaction (scopeOf), not before it.
      const authenticateUserOrKey = createUserOrKeyResolver({ user: requireUser, ...keyPath });
      await app.register(orgRoutes, { orgs, requireUser, scopeOf, authenticateUserOrKey });
      await app.register(apiKeyRoutes, { apiKeys, requireUser, scopeOf });
      await app.register(invitationRoutes, { invitations, requireUser, scopeOf });
      // Other modules' org routes that an API key may call too (audit, vault) use the same resolver.
      return { requireUserOrKey };
    },
  };
}

/** Plan policies from RAMPART_PLANS; a mistake there stops the start like any configuration error. */
function readPlans(json: string | null): Record<Plan, PlanPolicy> {
  try {
    return parsePlanPolicies(json);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
