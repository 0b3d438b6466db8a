import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorResponses, requestMeta } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import { OrgParams } from '../settings/settings.schemas.js';
import { consentErrors } from './consent.errors.js';
import { ConsentInput, ConsentView, PublicConsentInput, PublicConsentView, PublicParams, SubjectConsents, SubjectParams } from './consent.schemas.js';
import { optOutSignal } from './consent.service.js';
import type { Consents } from './consent.service.js';

const PUBLIC_ID = /^org_[0-9a-f]{32}$/;
// A banner's choice is a few hundred bytes; anything much larger is not one.
const PUBLIC_BODY_LIMIT = 4096;
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface ConsentRouteDependencies {
  consents: Consents;
  requireUserOrKey: (request: FastifyRequest) => Promise<void>;
}

function originOf(request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  return typeof origin === 'string' ? origin : null;
}

/** CORS for one allowed origin: no credentials (the endpoint takes none), and caches vary by origin. */
function allowOrigin(reply: FastifyReply, origin: string): void {
  reply.header('access-control-allow-origin', origin);
  reply.header('vary', 'Origin');
}

/**
 * Consent (API.md "Privacy"): members and `consent:*` keys through the org API, and the public
 * endpoint the banner posts to, which knows the org only by its public id.
 */
export async function consentRoutes(fastify: FastifyInstance, deps: ConsentRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['privacy'];
  const security = [{ bearer: [] }];
  const { consents } = deps;

  app.post(
    '/v1/orgs/:org/consents',
    {
      preHandler: deps.requireUserOrKey,
      bodyLimit: PUBLIC_BODY_LIMIT * 4,
      schema: { tags, security, summary: "Record a data subject's consent choices (consent:write); records are immutable", params: OrgParams, body: ConsentInput, response: { 201: ConsentView, ...errorResponses(400, 401, 403, 404, 413) } },
    },
    async (request, reply) => reply.status(201).send(await consents.recordForOrg(authorize(request, 'consent:write'), request.body, requestMeta(request))),
  );

  app.get(
    '/v1/orgs/:org/consents/:subject_id',
    {
      preHandler: deps.requireUserOrKey,
      schema: { tags, security, summary: "A data subject's current consent and its history (consent:read)", params: SubjectParams, response: { 200: SubjectConsents, ...errorResponses(401, 403, 404) } },
    },
    async (request) => consents.ofSubject(authorize(request, 'consent:read'), request.params.subject_id),
  );

  const publicPath = '/v1/public/consents/:public_id';

  app.options(publicPath, { schema: { tags, summary: 'CORS preflight for the public consent endpoint: allowed for the origins in the org\'s privacy settings', params: PublicParams } }, async (request, reply) => {
    const origin = originOf(request);
    const tenantId = PUBLIC_ID.test(request.params.public_id) ? await consents.tenantOfPublicId(request.params.public_id) : null;
    if (origin !== null && tenantId !== null && (await consents.allowsOrigin(tenantId, origin))) {
      allowOrigin(reply, origin);
      reply.header('access-control-allow-methods', 'POST');
      reply.header('access-control-allow-headers', 'content-type');
      reply.header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    return reply.status(204).send();
  });

  app.post(
    publicPath,
    {
      bodyLimit: PUBLIC_BODY_LIMIT,
      // Anyone on the internet may call this: the stricter per-address bucket too, before the body is read.
      config: { rateLimit: 'auth' },
      schema: {
        tags,
        summary: "The consent banner's endpoint: no authentication, the org named by its public id; Sec-GPC: 1 or DNT: 1 records an opt-out of every non-essential purpose",
        params: PublicParams,
        body: PublicConsentInput,
        response: { 201: PublicConsentView, ...errorResponses(400, 403, 404, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      if (!PUBLIC_ID.test(request.params.public_id)) throw consentErrors.not_found();
      const origin = originOf(request);
      const recorded = await consents.recordPublic(request.params.public_id, origin, request.body, requestMeta(request), optOutSignal(request.headers));
      if (origin !== null) allowOrigin(reply, origin);
      return reply.status(201).send({ id: recorded.id, purposes: recorded.purposes, signal: recorded.signal, recorded_at: recorded.recorded_at });
    },
  );
}
