import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import { AppError } from '../platform/http/index.js';
import * as S from './identity.schemas.js';
import { cookieValue } from './session-cookie.js';
import type { SessionCookie } from './session-cookie.js';
import type { Oidc } from './oidc.service.js';

export interface OidcRouteDependencies {
  oidc: Oidc;
  /** Decides the cookie's Secure attribute: a browser drops Secure cookies set over plain http. */
  publicUrl: string;
  /** The dashboard's session cookie, set when the sign-in started from the dashboard. */
  sessionCookie: SessionCookie;
}

const STATE_COOKIE = 'rampart_oidc_state';
const COOKIE_PATH = '/v1/auth/oidc/';
const STATE_COOKIE_SECONDS = 600;
// Marks a sign-in started from the dashboard: its callback ends in the session cookie and a page.
const CLIENT_COOKIE = 'rampart_oidc_client';
const DASHBOARD = 'dashboard';
const StartQuery = Type.Object(
  { client: Type.Optional(Type.Literal(DASHBOARD, { description: 'Started from the dashboard: the callback sets the session cookie and redirects to a page instead of answering JSON' })) },
  { additionalProperties: false },
);

const ProviderParams = Type.Object({ provider: Type.String({ minLength: 1, maxLength: 64, description: 'The provider id from RAMPART_OIDC_PROVIDERS' }) });
// Providers add their own parameters (iss, scope, session_state, ...): extra ones are allowed.
const CallbackQuery = Type.Object({
  state: Type.String({ minLength: 1, maxLength: 512 }),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
});

function stateCookie(value: string, maxAge: number, secure: boolean, name = STATE_COOKIE): string {
  // Lax: the provider's redirect back is a top-level GET navigation, which Lax cookies accompany.
  return `${name}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
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
        querystring: StartQuery,
        response: { 302: Type.Null({ description: 'Redirect to the provider; a short-lived cookie binds the sign-in to this browser' }), ...errorResponses(400, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { url, state } = await oidc.start(request.params.provider, request.log);
      reply.header('set-cookie', stateCookie(state, STATE_COOKIE_SECONDS, secure));
      if (request.query.client === DASHBOARD) reply.header('set-cookie', stateCookie(DASHBOARD, STATE_COOKIE_SECONDS, secure, CLIENT_COOKIE));
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
          'links an existing account only by an email the provider has verified. A sign-in started from the dashboard ' +
          'instead gets the session cookie and a redirect (302) to `/`, to `/sign-in#mfa_token=...`, or to `/sign-in?oidc_error=<error code>`',
        params: ProviderParams,
        querystring: CallbackQuery,
        response: { 200: Type.Union([S.Tokens, S.MfaChallenge]), 302: Type.Null({ description: 'Dashboard sign-ins: back to a page' }), ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      // Whatever the outcome, the state is used up: the browser forgets it.
      reply.header('set-cookie', stateCookie('', 0, secure));
      const queryAt = request.url.indexOf('?');
      const signIn = () =>
        oidc.callback(
          request.params.provider,
          { state: request.query.state, browserState: cookieValue(request, STATE_COOKIE), search: queryAt >= 0 ? request.url.slice(queryAt) : '' },
          requestMeta(request),
          request.log,
        );
      if (cookieValue(request, CLIENT_COOKIE) !== DASHBOARD) return signIn();
      reply.header('set-cookie', stateCookie('', 0, secure, CLIENT_COOKIE));
      try {
        const result = await signIn();
        if ('mfa_required' in result) return reply.redirect(`/sign-in#mfa_token=${encodeURIComponent(result.mfa_token)}`, 302);
        deps.sessionCookie.setAfterExternalSignIn(reply, 'user', result.refresh_token);
        return reply.redirect('/', 302);
      } catch (error) {
        // Only a code goes into the address: the page words it itself, so nobody can put text of
        // their choosing on this origin with a crafted link. An unexpected failure is logged.
        if (!(error instanceof AppError)) request.log.error({ err: error }, 'external sign-in failed');
        const code = error instanceof AppError ? error.code : 'external_sign_in_failed';
        return reply.redirect(`/sign-in?oidc_error=${encodeURIComponent(code)}`, 302);
      }
    },
  );
}
