import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI 3.1 document is generated from the same TypeBox schemas that validate requests,
 * so the description cannot drift from the behaviour. Register before any route.
 */
export async function registerOpenApi(app: FastifyInstance, publicUrl: string, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rampart API',
        version,
        description: 'Security and compliance backbone: identity, tenancy, audit, vault, privacy, trust.',
      },
      servers: [{ url: publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token (JWT) or an org API key (rk_...)' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { url: '/openapi.json' } as never });

  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['service'],
        summary: 'This API description (OpenAPI 3.1)',
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => app.swagger(),
  );
}
