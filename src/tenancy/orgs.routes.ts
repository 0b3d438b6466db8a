import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../identity/index.js';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import type { OrgScopes } from './org-context.js';
import type { Orgs } from './orgs.service.js';
import { OrgParams, RoleSchema } from './tenancy.schemas.js';

export interface OrgRouteDependencies {
  orgs: Orgs;
  requireUser: (request: FastifyRequest) => Promise<void>;
  /** Each route's work runs in an org scope, which checks the caller inside the work's own transaction. */
  scopeOf: OrgScopes;
  /** For the routes an org API key may call too: verifies a key, or authenticates a user (the scope then checks either). */
  authenticateUserOrKey: (request: FastifyRequest) => Promise<void>;
}

const MfaPolicy = Type.Union([Type.Literal('none'), Type.Literal('owners'), Type.Literal('admins'), Type.Literal('all')]);
const OrgName = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const MemberParams = Type.Object({ org: Type.String({ maxLength: 64 }), user_id: Type.String({ format: 'uuid' }) });

const Org = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  mfa_required_for: MfaPolicy,
  invite_only: Type.Boolean(),
  retention_days: Type.Integer(),
  erasure_grace_days: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
});
const OrgSettings = Type.Object(
  {
    name: Type.Optional(OrgName),
    mfa_required_for: Type.Optional(MfaPolicy),
    invite_only: Type.Optional(Type.Boolean()),
    retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    erasure_grace_days: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
const Member = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: RoleSchema,
  mfa_enabled: Type.Boolean(),
});

/** The "Organizations and access" section of API.md: orgs, settings and members. */
export async function orgRoutes(fastify: FastifyInstance, deps: OrgRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['organizations'];
  const security = [{ bearer: [] }];
  const inOrg = { preHandler: deps.requireUser };
  const { orgs, scopeOf } = deps;

  app.post(
    '/v1/orgs',
    {
      preHandler: deps.requireUser,
      schema: {
        tags,
        security,
        summary: 'Create an organization; you become its owner',
        body: Type.Object({ name: OrgName }, { additionalProperties: false }),
        response: { 201: Type.Object({ id: Type.String(), name: Type.String() }), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => reply.status(201).send(await orgs.create(principalOf(request), request.body.name.trim(), requestMeta(request))),
  );

  app.get(
    '/v1/orgs/:org',
    { ...inOrg, schema: { tags, security, summary: 'The organization and its settings', params: OrgParams, response: { 200: Org, ...errorResponses(401, 403, 404) } } },
    async (request) => orgs.view(scopeOf(request, 'org:read')),
  );

  app.patch(
    '/v1/orgs/:org',
    {
      ...inOrg,
      schema: { tags, security, summary: 'Change settings (admins and owners); each change is audited with before and after', params: OrgParams, body: OrgSettings, response: { 200: Org, ...errorResponses(400, 401, 403, 404) } },
    },
    async (request) => {
      return orgs.updateSettings(scopeOf(request, 'settings:update'), { ...request.body, ...(request.body.name ? { name: request.body.name.trim() } : {}) }, requestMeta(request));
    },
  );

  app.get(
    '/v1/orgs/:org/members',
    {
      preHandler: deps.authenticateUserOrKey,
      schema: { tags, security, summary: 'Members with their roles and MFA status', params: OrgParams, response: { 200: Type.Object({ data: Type.Array(Member), next_cursor: Type.Null() }), ...errorResponses(401, 403, 404) } },
    },
    async (request) => ({ data: await orgs.listMembers(scopeOf(request, 'members:read')), next_cursor: null }),
  );

  app.patch(
    '/v1/orgs/:org/members/:user_id',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: "Change a member's role; takes effect on their next request",
        params: MemberParams,
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 200: Type.Object({ user_id: Type.String(), role: RoleSchema }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => orgs.changeRole(scopeOf(request, 'members:update'), request.params.user_id, request.body.role, requestMeta(request)),
  );

  app.delete(
    '/v1/orgs/:org/members/:user_id',
    {
      ...inOrg,
      schema: { tags, security, summary: 'Remove a member, or leave (your own id)', params: MemberParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (request, reply) => {
      await orgs.removeMember(scopeOf(request, 'org:read'), request.params.user_id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
