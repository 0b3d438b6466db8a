import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../identity/index.js';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import type { Invitations } from './invitations.service.js';
import type { OrgScopes } from './org-context.js';
import { OrgParams, RoleSchema } from './tenancy.schemas.js';

export interface InvitationRouteDependencies {
  invitations: Invitations;
  requireUser: (request: FastifyRequest) => Promise<void>;
  /** Each route's work runs in an org scope, which checks the caller inside the work's own transaction. */
  scopeOf: OrgScopes;
}

const InvitationParams = Type.Object({ org: Type.String({ maxLength: 64 }), id: Type.String({ format: 'uuid' }) });
const InviteEmail = Type.String({ minLength: 3, maxLength: 320, description: 'Normalized (trimmed, NFKC, lower-cased) before use' });
const Sent = Type.Object({ id: Type.String(), email: Type.String(), role: RoleSchema, expires_at: Type.String({ format: 'date-time' }) });
const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  invited_by: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]),
});
const Membership = Type.Object({ org: Type.Object({ id: Type.String(), name: Type.String() }), role: RoleSchema });

/** Invitations of API.md: admins send, list and revoke them; the invitee accepts with the mailed token. */
export async function invitationRoutes(fastify: FastifyInstance, deps: InvitationRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['organizations'];
  const security = [{ bearer: [] }];
  const inOrg = { preHandler: deps.requireUser };
  const { invitations } = deps;

  app.post(
    '/v1/orgs/:org/invitations',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'Invite someone by email (admins; only owners invite owners); the link is valid for 7 days',
        params: OrgParams,
        body: Type.Object({ email: InviteEmail, role: RoleSchema }, { additionalProperties: false }),
        response: { 201: Sent, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await invitations.invite(deps.scopeOf(request, 'members:invite'), request.body, requestMeta(request))),
  );

  app.get(
    '/v1/orgs/:org/invitations',
    {
      ...inOrg,
      schema: {
        tags,
        security,
        summary: 'Invitations of the organization, newest first, with their status',
        params: OrgParams,
        response: { 200: Type.Object({ data: Type.Array(Invitation), next_cursor: Type.Null() }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => ({ data: await invitations.list(deps.scopeOf(request, 'members:invite')), next_cursor: null }),
  );

  app.delete(
    '/v1/orgs/:org/invitations/:id',
    {
      ...inOrg,
      schema: { tags, security, summary: 'Revoke a pending invitation; its link stops working at once', params: InvitationParams, response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) } },
    },
    async (request, reply) => {
      await invitations.revoke(deps.scopeOf(request, 'members:invite'), request.params.id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/invitations/accept',
    {
      preHandler: deps.requireUser,
      schema: {
        tags,
        security,
        summary: 'Join an organization with the mailed token; your verified email must be the invited one',
        body: Type.Object({ token: Type.String({ minLength: 16, maxLength: 512 }) }, { additionalProperties: false }),
        response: { 200: Membership, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request) => invitations.accept(principalOf(request), request.body.token, requestMeta(request)),
  );
}
