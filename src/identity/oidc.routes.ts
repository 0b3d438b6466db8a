import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import * as S from './identity.schemas.js';
import type { Oidc } from './oidc.service.js';

export interface OidcRouteDependencies {
  oidc: Oidc;
  /** Decides the cookie's Secure attribute: a browser drops Secure cookies set over plain http. */
  publicUrl: string;
}

const STATE_COOKIE = 'rampart_oidc_state';
const COOKIE_PATH = '/v1/auth/oidc/';
const STATE_COOKIE_SECONDS = 600;

const ProviderParams = Type.Object({ provider: Type.String({ minLength: 1, maxLength: 64, description: 'The provider id from RAMPART_OIDC_PROVIDERS' }) });
// Providers add their own parameters (iss, scope, session_state, ...): extra ones are allowed.
const CallbackQuery = Type.Object({
  state: Type.String({ minLength: 1, maxLength: 512 }),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
});

function stateCookie(value: string, maxAge: number, secure: boolean): string {
  // Lax: the provider's redirect back is a top-level GET navigation, which Lax cookies accompany.
  return `${STATE_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

function cookieValue(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return null;
}

/** External OpenID Connect sign-in: GET /v1/auth/oidc/{provider}/start and /callback. */
export async function oidcRoutes(fastify: FastifyInstance, deps: OidcRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { oidc } = deps;
  const tags = ['identity'];
  const secure = deps.publicUrl.startsWith('https:');

  app.get(
    '/v1/auth/oidc/:provider/start',
    {
      config: { rateLimit: 'auth' },
      schema: {
        tags,
        summary: 'Start signing in with an external OpenID Connect provider: redirects (302) to the provider',
        params: ProviderParams,
        response: { 302: Type.Null({ description: 'Redirect to the provider; a short-lived cookie binds the sign-in to this browser' }), ...errorResponses(400, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { url, state } = await oidc.start(request.params.provider, request.log);
      reply.header('set-cookie', stateCookie(state, STATE_COOKIE_SECONDS, secure));
      return reply.redirect(url, 302);
    },
  );

  app.get(
    '/v1/auth/oidc/:provider/callback',
    {
      config: { rateLimit: 'auth' },
      schema: {
        tags,
        summary:
          'Where the provider sends the browser back: answers JSON tokens (or an MFA challenge for /v1/auth/login/mfa); ' +
          'links an existing account only by an email the provider has verified',
        params: ProviderParams,
        querystring: CallbackQuery,
        response: { 200: Type.Union([S.Tokens, S.MfaChallenge]), ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      // Whatever the outcome, the state is used up: the browser forgets it.
      reply.header('set-cookie', stateCookie('', 0, secure));
      const queryAt = request.url.indexOf('?');
      return oidc.callback(
        request.params.provider,
        { state: request.query.state, browserState: cookieValue(request, STATE_COOKIE), search: queryAt >= 0 ? request.url.slice(queryAt) : '' },
        requestMeta(request),
        request.log,
      );
    },
  );
}
