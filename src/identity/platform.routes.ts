import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, httpErrors, requestMeta } from '../platform/http/index.js';
import type { Account } from './account.service.js';
import type { Auth } from './auth.service.js';
import { principalOf } from './authenticate.js';
import * as S from './identity.schemas.js';
import type { PlatformAuth } from './platform-auth.service.js';
import { refreshSession } from './identity.routes.js';
import type { SessionCookie } from './session-cookie.js';
import type { Sessions } from './sessions.service.js';

export interface PlatformRouteDependencies {
  auth: Auth;
  platformAuth: PlatformAuth;
  account: Account;
  sessions: Sessions;
  requirePlatform: (request: FastifyRequest) => Promise<void>;
  cookie: SessionCookie;
}

const AUTH = { rateLimit: 'auth' as const };
const PlatformChallenge = Type.Object({
  mfa_required: Type.Literal(true),
  mfa_token: Type.String(),
  mfa_enrolment_required: Type.Optional(Type.Literal(true, { description: 'TOTP must be enrolled before the first session' })),
});
const MfaTokenBody = Type.Object({ mfa_token: Type.String({ minLength: 16, maxLength: 512 }) }, { additionalProperties: false });
const ConfirmBody = Type.Object(
  { mfa_token: Type.String({ minLength: 16, maxLength: 512 }), code: Type.String({ pattern: '^[0-9]{6}$' }) },
  { additionalProperties: false },
);
const StaffMe = Type.Object({ id: Type.String(), email: Type.String(), name: Type.Union([Type.String(), Type.Null()]) });

/**
 * The platform realm's sign-in: separate accounts (platform_staff), a separate token audience, and
 * MFA before the first session. Tenant tokens are refused here and platform tokens on tenant routes.
 */
export async function platformRoutes(fastify: FastifyInstance, deps: PlatformRouteDependencies): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['platform'];
  const security = [{ bearer: [] }];

  app.post(
    '/v1/platform/auth/login',
    {
      config: AUTH,
      schema: { tags, summary: 'Staff sign-in, first step: always answers with an MFA challenge', body: S.LoginBody, response: { 200: PlatformChallenge, ...errorResponses(400, 401, 429) } },
    },
    async (request) => {
      const result = await deps.auth.login('platform', request.body, requestMeta(request));
      // Staff always get a challenge (MFA is mandatory); tokens here would mean that rule broke.
      if (!('mfa_required' in result)) throw httpErrors.internal();
      return result;
    },
  );

  app.post(
    '/v1/platform/auth/login/mfa',
    { config: AUTH, schema: { tags, summary: 'Staff sign-in, second step', body: S.LoginMfaBody, response: { 200: S.Tokens, ...errorResponses(400, 401, 429) } } },
    async (request, reply) => {
      deps.cookie.checkOrigin(request);
      return deps.cookie.deliver(request, reply, 'platform', await deps.auth.loginMfa('platform', request.body, requestMeta(request)));
    },
  );

  app.post(
    '/v1/platform/auth/mfa/enrol',
    { config: AUTH, schema: { tags, summary: 'Start the mandatory TOTP enrolment with an enrolment challenge', body: MfaTokenBody, response: { 200: S.TotpEnrolment, ...errorResponses(400, 409, 429) } } },
    async (request) => {
      const enrolment = await deps.platformAuth.beginEnrolment(request.body.mfa_token);
      return { secret: enrolment.secret, otpauth_uri: enrolment.otpauthUri, qr_svg: enrolment.qrSvg };
    },
  );

  app.post(
    '/v1/platform/auth/mfa/confirm',
    {
      config: AUTH,
      schema: {
        tags,
        summary: 'Confirm TOTP; opens the first session and returns the recovery codes, shown once',
        body: ConfirmBody,
        response: { 200: Type.Object({ tokens: S.Tokens, recovery_codes: S.RecoveryCodes.properties.recovery_codes }), ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      deps.cookie.checkOrigin(request);
      const { tokens, recoveryCodes } = await deps.platformAuth.confirmEnrolment(request.body.mfa_token, request.body.code, requestMeta(request));
      return { tokens: deps.cookie.deliver(request, reply, 'platform', tokens), recovery_codes: recoveryCodes };
    },
  );

  app.post(
    '/v1/platform/auth/token/refresh',
    { config: AUTH, schema: { tags, summary: 'Spend a staff refresh token for new tokens (body or browser session cookie)', body: S.RefreshBody, response: { 200: S.Tokens, ...errorResponses(400, 401, 403, 429) } } },
    async (request, reply) => refreshSession(deps, 'platform', request, reply, request.body.refresh_token),
  );

  app.post(
    '/v1/platform/auth/logout',
    { preHandler: deps.requirePlatform, schema: { tags, security, summary: 'End the current staff session', response: { 204: Type.Null(), ...errorResponses(401) } } },
    async (request, reply) => {
      await deps.account.logout(principalOf(request), requestMeta(request));
      deps.cookie.clear(reply, 'platform');
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/platform/me',
    { preHandler: deps.requirePlatform, schema: { tags, security, summary: 'The signed-in staff member', response: { 200: StaffMe, ...errorResponses(401) } } },
    async (request) => {
      return deps.account.staffProfile(principalOf(request));
    },
  );
}
