import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, requestMeta } from '../platform/http/index.js';
import type { Account } from './account.service.js';
import type { Auth } from './auth.service.js';
import { principalOf } from './authenticate.js';
import * as S from './identity.schemas.js';
import type { SessionCookie } from './session-cookie.js';
import type { Sessions } from './sessions.service.js';

export interface IdentityRouteDependencies {
  auth: Auth;
  account: Account;
  sessions: Sessions;
  requireUser: (request: FastifyRequest) => Promise<void>;
  cookie: SessionCookie;
  /** What the hosted sign-in page offers: sign-up or not, and the external providers by name. */
  signInOptions: { signup: 'open' | 'invite_only'; oidc_providers: Array<{ id: string; name: string }> };
}

const AUTH = { rateLimit: 'auth' as const };
const NoContent = Type.Null({ description: 'No content' });

/** The Identity section of API.md: sign-up, sign-in, tokens, and the signed-in user's own account. */
export async function identityRoutes(fastify: FastifyInstance, deps: IdentityRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { auth, account, requireUser, cookie } = deps;
  const tags = ['identity'];
  const secured = { preHandler: requireUser };
  const security = [{ bearer: [] }];

  app.get(
    '/v1/auth/options',
    { schema: { tags, summary: 'How one may sign in here: whether sign-up is open, and the external providers', response: { 200: S.AuthOptions } } },
    async () => deps.signInOptions,
  );

  app.post(
    '/v1/auth/signup',
    { config: AUTH, schema: { tags, summary: 'Create an account', body: S.SignupBody, response: { 201: Type.Object({ user: S.User }), ...errorResponses(400, 403, 409, 429) } } },
    async (request, reply) => reply.status(201).send({ user: await auth.signup(request.body, requestMeta(request)) }),
  );

  app.post(
    '/v1/auth/login',
    {
      config: AUTH,
      schema: {
        tags,
        summary: 'Sign in with email and password; with MFA on, returns a challenge for /v1/auth/login/mfa',
        body: S.LoginBody,
        response: { 200: Type.Union([S.Tokens, S.MfaChallenge]), ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      cookie.checkOrigin(request);
      const result = await auth.login('user', request.body, requestMeta(request));
      return 'mfa_required' in result ? result : cookie.deliver(request, reply, 'user', result);
    },
  );

  app.post(
    '/v1/auth/login/mfa',
    { config: AUTH, schema: { tags, summary: 'Second sign-in step: a TOTP or recovery code', body: S.LoginMfaBody, response: { 200: S.Tokens, ...errorResponses(400, 401, 429) } } },
    async (request, reply) => {
      cookie.checkOrigin(request);
      return cookie.deliver(request, reply, 'user', await auth.loginMfa('user', request.body, requestMeta(request)));
    },
  );

  app.post(
    '/v1/auth/token/refresh',
    {
      config: AUTH,
      schema: {
        tags,
        summary: 'Spend a refresh token for new tokens (from the body, or from the browser session cookie with x-rampart-session: cookie and a same-origin Origin)',
        body: S.RefreshBody,
        response: { 200: S.Tokens, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => refreshSession(deps, 'user', request, reply, request.body.refresh_token),
  );

  app.post(
    '/v1/auth/logout',
    { ...secured, schema: { tags, security, summary: 'End the current session (and clear the browser session cookie)', response: { 204: NoContent, ...errorResponses(401) } } },
    async (request, reply) => {
      await account.logout(principalOf(request), requestMeta(request));
      cookie.clear(reply, 'user');
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/auth/password/forgot',
    { config: AUTH, schema: { tags, summary: 'Mail a reset link if the account exists (always 202)', body: S.ForgotBody, response: { 202: NoContent, ...errorResponses(400, 429) } } },
    async (request, reply) => {
      await auth.forgotPassword(request.body, requestMeta(request));
      // No body, as the 202 declares (send(null) would put a JSON `null` on the wire).
      return reply.status(202).send(undefined as unknown as null);
    },
  );

  app.post(
    '/v1/auth/password/reset',
    { config: AUTH, schema: { tags, summary: 'Set a new password from a reset link; every session ends', body: S.ResetBody, response: { 204: NoContent, ...errorResponses(400, 429) } } },
    async (request, reply) => {
      await auth.resetPassword(request.body, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/auth/email/verify',
    { config: AUTH, schema: { tags, summary: 'Confirm the email address from the mailed link', body: S.TokenBody, response: { 204: NoContent, ...errorResponses(400, 429) } } },
    async (request, reply) => {
      await auth.verifyEmail(request.body, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get('/v1/me', { ...secured, schema: { tags, security, summary: 'The signed-in user', response: { 200: S.Me, ...errorResponses(401) } } }, async (request) =>
    account.profile(principalOf(request)),
  );

  app.patch(
    '/v1/me',
    { ...secured, schema: { tags, security, summary: 'Correct your name (rectification)', body: S.PatchMeBody, response: { 200: S.Me, ...errorResponses(400, 401) } } },
    async (request) => account.rename(principalOf(request), request.body.name),
  );

  app.post(
    '/v1/me/password',
    { ...secured, config: AUTH, schema: { tags, security, summary: 'Change your password; other sessions end', body: S.ChangePasswordBody, response: { 204: NoContent, ...errorResponses(400, 401, 403) } } },
    async (request, reply) => {
      await account.changePassword(principalOf(request), request.body, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/me/mfa/totp',
    { ...secured, schema: { tags, security, summary: 'Start TOTP enrolment (inactive until confirmed)', response: { 200: S.TotpEnrolment, ...errorResponses(401, 409) } } },
    async (request) => {
      const enrolment = await account.beginTotp(principalOf(request), requestMeta(request));
      return { secret: enrolment.secret, otpauth_uri: enrolment.otpauthUri, qr_svg: enrolment.qrSvg };
    },
  );

  app.post(
    '/v1/me/mfa/totp/confirm',
    { ...secured, config: AUTH, schema: { tags, security, summary: 'Confirm TOTP with a code; returns 10 recovery codes, shown once', body: S.CodeBody, response: { 200: S.RecoveryCodes, ...errorResponses(400, 401) } } },
    async (request) => ({ recovery_codes: await account.confirmTotp(principalOf(request), request.body.code, requestMeta(request)) }),
  );

  app.delete(
    '/v1/me/mfa/totp',
    { ...secured, config: AUTH, schema: { tags, security, summary: 'Turn TOTP off (the password, or a sign-in within 10 minutes)', body: S.StepUpBody, response: { 204: NoContent, ...errorResponses(400, 401, 403, 409) } } },
    async (request, reply) => {
      await account.disableTotp(principalOf(request), request.body.password, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get('/v1/me/sessions', { ...secured, schema: { tags, security, summary: 'Your active sessions', response: { 200: S.SessionList, ...errorResponses(401) } } }, async (request) => ({
    data: await account.listSessions(principalOf(request)),
  }));

  app.delete(
    '/v1/me/sessions',
    { ...secured, schema: { tags, security, summary: 'Revoke every session but the current one', response: { 204: NoContent, ...errorResponses(401) } } },
    async (request, reply) => {
      await account.revokeSessions(principalOf(request), { others: true }, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/me/sessions/:id',
    { ...secured, schema: { tags, security, summary: "Revoke one session; its tokens stop working", params: S.SessionParams, response: { 204: NoContent, ...errorResponses(400, 401, 404) } } },
    async (request, reply) => {
      await account.revokeSessions(principalOf(request), { sessionId: request.params.id }, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/me/security-events',
    { ...secured, schema: { tags, security, summary: 'Your sign-ins, MFA and session events, newest first', querystring: S.LimitQuery, response: { 200: S.SecurityEvents, ...errorResponses(400, 401) } } },
    async (request) => ({ data: await account.securityEvents(principalOf(request), request.query.limit ?? 50), next_cursor: null }),
  );

  app.get('/v1/me/export', { ...secured, schema: { tags, security, summary: 'Every piece of personal data held about you', response: { 200: S.Export, ...errorResponses(401) } } }, async (request) =>
    account.exportData(principalOf(request), requestMeta(request)),
  );

  app.delete(
    '/v1/me',
    { ...secured, config: AUTH, schema: { tags, security, summary: 'Close your account (the password, or a sign-in within 10 minutes); purged after the grace period', body: S.StepUpBody, response: { 202: S.DeletionScheduled, ...errorResponses(400, 401, 403, 409) } } },
    async (request, reply) => {
      const result = await account.deleteAccount(principalOf(request), request.body.password, requestMeta(request));
      return reply.status(202).send({ status: 'deletion_scheduled' as const, ...result });
    },
  );
}

/**
 * One refresh for both realms: the token comes from the body or the cookie (session-cookie.ts).
 * A cookie that no longer works is cleared, so a revoked browser session ends cleanly.
 */
export async function refreshSession(
  deps: { sessions: Sessions; cookie: SessionCookie },
  realm: 'user' | 'platform',
  request: FastifyRequest,
  reply: FastifyReply,
  fromBody: string | undefined,
) {
  const presented = deps.cookie.presented(request, realm, fromBody);
  try {
    return deps.cookie.deliver(request, reply, realm, await deps.sessions.refresh(realm, presented, requestMeta(request)));
  } catch (error) {
    if (fromBody === undefined) deps.cookie.clear(reply, realm);
    throw error;
  }
}
