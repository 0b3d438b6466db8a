import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ErrorResponse } from './errors.js';

/**
 * The OpenAPI 3.1 document is generated from the same TypeBox schemas that validate requests,
 * so the description cannot drift from the behaviour. Register before any route.
 */
export async function registerOpenApi(app: FastifyInstance, publicUrl: string, version: string): Promise<void> {
  app.addHook('onRoute', declareCommonErrors);
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

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Adds to a route's declared responses the errors it can answer before or around its handler:
 * 400/413/415 from body parsing, 400 from parameter validation, 414 from the router's parameter
 * length limit, 429 from the rate limiter and 503 while a dependency is down or the server is
 * closing. The fuzz tests hold every response to the document, so it must say all of this.
 */
function declareCommonErrors(route: RouteOptions): void {
  const declared = route.schema?.response as Record<string, unknown> | undefined;
  if (!route.schema || !declared) return;
  const methods = [route.method].flat();
  const hasPathParams = route.url.includes(':');
  const statuses = [503];
  if (methods.some((method) => BODY_METHODS.has(method))) statuses.push(400, 413, 415);
  if (hasPathParams || route.schema.querystring || route.schema.headers) statuses.push(400);
  if (hasPathParams) statuses.push(414);
  if ((route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false) statuses.push(429);
  const common = Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
  route.schema = { ...route.schema, response: { ...common, ...declared } };
}
