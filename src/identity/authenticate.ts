import type { FastifyRequest } from 'fastify';
import type { Realm } from '../platform/db/index.js';
import type { RateLimiter } from '../platform/http/index.js';
import type { AccessTokens } from './access-tokens.js';
import { identityErrors } from './identity.errors.js';
import type { Sessions } from './sessions.service.js';

/** The authenticated caller of a request. */
export interface Principal {
  realm: Realm;
  id: string;
  email: string;
  sessionId: string;
  amr: string[];
  /** When the caller last proved who they are; step-up checks compare against it. */
  authenticatedAt: Date;
  /** Whether the caller has confirmed TOTP, as of this request (org MFA policies ask). */
  mfaEnabled: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]+)$/;

/**
 * Builds the preHandler that authenticates a realm's routes: a valid access token of that realm's
 * audience whose session is alive and whose principal has not changed credentials since. Then
 * the caller draws from its own per-account rate limit.
 */
export function createAuthenticator(deps: { accessTokens: AccessTokens; sessions: Sessions; rateLimiter: RateLimiter }) {
  return (realm: Realm) =>
    async function authenticate(request: FastifyRequest): Promise<void> {
      const match = BEARER.exec(request.headers.authorization ?? '');
      if (!match) throw identityErrors.unauthenticated();
      const token = match[1]!;
      // API keys act inside their org only; they are never a user (the tenancy module accepts them).
      if (token.startsWith('rk_')) throw identityErrors.unauthenticated('API keys cannot be used on this route');
      const claims = await deps.accessTokens.verify(realm, token);
      const { session, principal } = await deps.sessions.assertActive(realm, claims.sid, claims.sub, claims.tv);
      await deps.rateLimiter.consume('account', `${realm}:${principal.id}`);
      request.principal = {
        realm,
        id: principal.id,
        email: principal.email,
        sessionId: session.id,
        amr: session.amr,
        authenticatedAt: session.authenticated_at,
        mfaEnabled: principal.mfa_enabled,
      };
    };
}

/** The principal of an authenticated route (its preHandler guarantees one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw identityErrors.unauthenticated();
  return request.principal;
}
