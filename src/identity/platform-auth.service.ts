import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import type { DB } from '../platform/db/index.js';
import type { ChallengeData } from './auth.service.js';
import { identityErrors } from './identity.errors.js';
import type { Mfa } from './mfa.service.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import { findPrincipalById } from './principals.repository.js';
import type { RequestMeta, Sessions, TokenPair } from './sessions.service.js';
import type { TotpEnrolment } from './totp.js';

export interface PlatformAuthDependencies {
  db: Kysely<DB>;
  clock: Clock;
  tokens: OneTimeTokens;
  mfa: Mfa;
  sessions: Sessions;
}

/**
 * MFA is mandatory for platform staff, before their first session. Their password step returns an
 * enrolment challenge instead of tokens; with it they may only start and confirm TOTP enrolment,
 * and confirming opens the first session.
 */
export function createPlatformAuth(deps: PlatformAuthDependencies) {
  const { db, clock } = deps;

  async function staffOfChallenge(executor: Kysely<DB>, challenge: { realm: string; principal_id: string | null; data: unknown } | undefined) {
    if (!challenge || challenge.realm !== 'platform' || !challenge.principal_id || !(challenge.data as ChallengeData).enrol) return null;
    const staff = await findPrincipalById(executor, 'platform', challenge.principal_id);
    return staff?.active ? staff : null;
  }

  return {
    async beginEnrolment(mfaToken: string): Promise<TotpEnrolment> {
      const staff = await db.transaction().execute(async (trx) => staffOfChallenge(trx, await deps.tokens.lock(trx, 'mfa_challenge', mfaToken, clock.now())));
      if (!staff) throw identityErrors.invalid_token('The sign-in has expired; enter your password again');
      return deps.mfa.beginEnrolment('platform', staff.id, staff.email);
    },

    async confirmEnrolment(mfaToken: string, code: string, meta: RequestMeta): Promise<{ tokens: TokenPair; recoveryCodes: string[] }> {
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const challenge = await deps.tokens.lock(trx, 'mfa_challenge', mfaToken, now);
        const staff = await staffOfChallenge(trx, challenge);
        if (!challenge || !staff) throw identityErrors.invalid_token('The sign-in has expired; enter your password again');
        const recoveryCodes = await deps.mfa.confirmEnrolment(trx, 'platform', staff.id, code);
        await deps.tokens.spend(trx, challenge.token_hash, now);
        const event = { realm: 'platform' as const, principalId: staff.id, ip: meta.ip, userAgent: meta.userAgent, requestId: meta.requestId ?? null, at: now };
        await recordAuditEvent(trx, { ...event, action: 'mfa.enrolled' });
        await recordAuditEvent(trx, { ...event, action: 'auth.login.succeeded', metadata: { amr: ['pwd', 'otp'] } });
        return { tokens: await deps.sessions.open(trx, 'platform', staff.id, ['pwd', 'otp'], meta), recoveryCodes };
      });
    },
  };
}

export type PlatformAuth = ReturnType<typeof createPlatformAuth>;
