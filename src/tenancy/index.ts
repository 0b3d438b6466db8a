import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import { createOrgResolver } from './org-context.js';
import { orgRoutes } from './orgs.routes.js';
import { createOrgs } from './orgs.service.js';

export { authorize } from './org-context.js';
export type { OrgContext } from './org-context.js';
export type { Permission, Role } from './permissions.js';

/** Builds the tenancy module: organizations, roles and members. */
export function createTenancy(deps: { database: Database; clock: Clock }) {
  const db = deps.database.db;
  const orgs = createOrgs({ db, clock: deps.clock });
  const resolveOrg = createOrgResolver(db);
  return {
    /** The orgs a user belongs to, with their role (for /v1/me). */
    orgsOf: (userId: string) => orgs.orgsOf(userId),
    /** preHandler resolving `:org` for routes of other modules (after authentication). */
    resolveOrg,
    async register(app: FastifyInstance, requireUser: (request: FastifyRequest) => Promise<void>): Promise<void> {
      app.decorateRequest('org', null);
      await app.register(orgRoutes, { orgs, requireUser, resolveOrg });
    },
  };
}
