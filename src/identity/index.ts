import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { deriveKey } from '../crypto/root-key.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import type { RateLimiter } from '../platform/http/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import type { Mailer } from '../platform/mail/index.js';
import { createAccessTokens, SIGNING_KEY_REFRESH_MS } from './access-tokens.js';
import { createAccount } from './account.service.js';
import type { OrgsOfUser, SoleOwnerOrgs } from './account.service.js';
import { createAuth } from './auth.service.js';
import type { InvitationCheck } from './auth.service.js';
import { createAuthenticator } from './authenticate.js';
import type { Principal } from './authenticate.js';
import type { RequestMeta } from './sessions.service.js';
import { identityRoutes } from './identity.routes.js';
import { createPlatformAuth } from './platform-auth.service.js';
import { platformRoutes } from './platform.routes.js';
import { createLoginThrottle } from './login-throttle.js';
import { createMfa } from './mfa.service.js';
import { createOidc } from './oidc.service.js';
import type { AccountClaimedHook } from './oidc.service.js';
import { oidcRoutes } from './oidc.routes.js';
import { createOneTimeTokens } from './one-time-tokens.js';
import { createPasswordHasher } from './passwords.js';
import { createSessionCookie } from './session-cookie.js';
import { createSessions } from './sessions.service.js';

export type { Principal } from './authenticate.js';
/** How long nodes take to start signing with a rotated key. */
export { SIGNING_KEY_REFRESH_MS } from './access-tokens.js';
/** Creates a platform staff account (only `rampart admin create` does). */
export { activePlatformStaffEmails, createPlatformStaff, disablePlatformStaff } from './platform-staff.js';
export { principalOf } from './authenticate.js';
/** The stored and compared form of an email address (null when it is not one). */
export { normalizeEmail } from './email.js';
/** Random single-use tokens and their keyed hash, for other modules' mailed links. */
export { generateSecretToken, hashSecretToken } from './secret-tokens.js';

export interface IdentityDependencies {
  config: Config;
  database: Database;
  clock: Clock;
  redis: Redis | null;
  jobs: JobQueue;
  mailer: Mailer;
  rateLimiter: RateLimiter;
  rootKey: Buffer;
  logger: Logger;
  /** Answers invite-only sign-up; given by the composition root because identity does not depend on tenancy. */
  isInvited: InvitationCheck;
  /** The orgs a user belongs to, for /v1/me; also given by the composition root. */
  orgsOf: OrgsOfUser;
  soleOwnerOrgs: SoleOwnerOrgs;
  /** Revokes a claimed account's org API keys and invitations; tenancy's, given by the composition root. */
  revokeOrgGrantsOfClaimedAccount: AccountClaimedHook;
}

/** Daily: deletes sessions and one-time tokens that ended more than 30 days ago. */
const PURGE_ENDED_SESSIONS_JOB = 'identity.purge_ended_sessions';

/** Builds the identity module: accounts, sessions, MFA, tokens, and the preHandlers other modules use. */
export async function createIdentity(deps: IdentityDependencies) {
  const { config, clock } = deps;
  const db = deps.database.db;
  const tokenHashKey = deriveKey(deps.rootKey, 'token-hashing');
  const accessTokens = createAccessTokens({ db, sealingKey: deriveKey(deps.rootKey, 'signing-keys'), issuer: config.publicUrl, ttlSeconds: config.identity.accessTokenTtlSeconds, clock });
  const sessions = createSessions({
    db,
    clock,
    accessTokens,
    tokenHashKey,
    accessTokenTtlSeconds: config.identity.accessTokenTtlSeconds,
    idleDays: config.identity.sessionIdleDays,
    absoluteDays: config.identity.sessionAbsoluteDays,
  });
  const passwords = await createPasswordHasher(config.identity.argon2);
  const mfa = createMfa({ db, clock, secretsKey: deriveKey(deps.rootKey, 'secrets'), codeHashKey: tokenHashKey, issuer: 'Rampart' });
  const tokens = createOneTimeTokens(tokenHashKey);
  const throttle = createLoginThrottle(deps.redis, tokenHashKey, clock);
  const auth = createAuth({
    db,
    clock,
    config: config.identity,
    publicUrl: config.publicUrl,
    passwords,
    throttle,
    sessions,
    mfa,
    tokens,
    mailer: deps.mailer,
    jobs: deps.jobs,
    isInvited: deps.isInvited,
  });
  const account = createAccount({
    db,
    clock,
    passwords,
    throttle,
    sessions,
    mfa,
    tokens,
    jobs: deps.jobs,
    orgsOf: deps.orgsOf,
    soleOwnerOrgs: deps.soleOwnerOrgs,
    deletionGraceDays: config.identity.accountDeletionGraceDays,
  });
  deps.jobs.register(PURGE_ENDED_SESSIONS_JOB, async () => {
    const purged = await sessions.purgeEnded();
    deps.logger.info({ purged }, 'ended sessions and expired tokens purged');
  });
  const authenticator = createAuthenticator({ accessTokens, sessions, rateLimiter: deps.rateLimiter });
  const requireUser = authenticator('user');
  const requirePlatform = authenticator('platform');
  const platformAuth = createPlatformAuth({ db, clock, tokens, mfa, sessions });

  return {
    /** preHandler for routes of tenant users. */
    requireUser,
    /** preHandler for platform-staff routes. */
    requirePlatform,
    /** Step-up for other modules: the user's password, or a sign-in within 10 minutes; else 403 `step_up_required`. */
    stepUp: (principal: Principal, password: string | undefined, meta: RequestMeta): Promise<void> => account.stepUp(principal, password, meta),
    /** Everything held about a user's account (what /v1/me/export returns); data-subject exports of a member reuse it. */
    memberData: (userId: string, tenantId: string) => account.memberData(userId, tenantId),
    async register(app: FastifyInstance): Promise<void> {
      app.decorateRequest('principal', null);
      let refresh: NodeJS.Timeout | undefined;
      app.addHook('onReady', async () => {
        await deps.jobs
          .schedule(PURGE_ENDED_SESSIONS_JOB, '17 3 * * *', PURGE_ENDED_SESSIONS_JOB)
          .catch((error: unknown) => app.log.warn({ err: error }, 'session clean-up not scheduled yet'));
        // A database that is down at start must not stop the app from starting (readiness says 503).
        await accessTokens.loadKeys().catch((error: unknown) => app.log.warn({ err: error }, 'signing key not loaded yet'));
        refresh = setInterval(() => {
          accessTokens.loadKeys().catch((error: unknown) => app.log.warn({ err: error }, 'signing key refresh failed'));
        }, SIGNING_KEY_REFRESH_MS).unref();
      });
      app.addHook('onClose', async () => clearInterval(refresh));
      const cookie = createSessionCookie({ publicUrl: config.publicUrl, maxAgeSeconds: config.identity.sessionAbsoluteDays * 86_400 });
      const signInOptions = { signup: config.identity.signup, oidc_providers: config.identity.oidcProviders.map(({ id, name }) => ({ id, name })) };
      await app.register(identityRoutes, { auth, account, sessions, requireUser, cookie, signInOptions });
      await app.register(platformRoutes, { auth, platformAuth, account, sessions, requirePlatform, cookie });
      const oidc = createOidc({ db, clock, env: config.env, publicUrl: config.publicUrl, config: config.identity, sessions, mfa, tokens, revokeOrgGrants: deps.revokeOrgGrantsOfClaimedAccount });
      await app.register(oidcRoutes, { oidc, publicUrl: config.publicUrl, sessionCookie: cookie });
    },
  };
}
