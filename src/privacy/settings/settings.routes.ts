import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorResponses, requestMeta } from '../../platform/http/index.js';
import { authorize } from '../../tenancy/index.js';
import type { PrivacySettings } from './settings.service.js';
import { OrgParams, PrivacySettingsChanges, PrivacySettingsView } from './settings.schemas.js';

/** GET/PATCH /v1/orgs/{org}/privacy-settings: members read, admins and owners change (audited). */
export async function privacySettingsRoutes(fastify: FastifyInstance, deps: { settings: PrivacySettings; requireUserOrKey: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const common = { tags: ['privacy'], security: [{ bearer: [] }], params: OrgParams };
  const path = '/v1/orgs/:org/privacy-settings';

  app.get(
    path,
    { preHandler: deps.requireUserOrKey, schema: { ...common, summary: "The org's public id, consent purposes, allowed origins, retention overrides and processing declarations", response: { 200: PrivacySettingsView, ...errorResponses(401, 403, 404) } } },
    async (request) => deps.settings.view(authorize(request, 'org:read')),
  );

  app.patch(
    path,
    {
      preHandler: deps.requireUserOrKey,
      schema: { ...common, summary: 'Change privacy settings (admins and owners); each change is audited', body: PrivacySettingsChanges, response: { 200: PrivacySettingsView, ...errorResponses(400, 401, 403, 404) } },
    },
    async (request) => deps.settings.update(authorize(request, 'settings:update'), request.body, requestMeta(request)),
  );
}
