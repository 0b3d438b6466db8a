import type { Kysely } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';
import type { OneTimeTokens } from './one-time-tokens.js';

/** What an `mfa_challenge` token carries: wrong codes so far, and how the first step signed in. */
export interface ChallengeData {
  attempts: number;
  /** `pwd` for a password, `ext` for external sign-in (oidc.service issues those challenges). */
  amr: string[];
  provider?: string;
  /** Set for staff who must enrol TOTP before their first session (MFA is mandatory there). */
  enrol?: boolean;
}

/** How long the second step may wait after the first; short, as the first factor was just proven. */
export const MFA_CHALLENGE_MS = 5 * 60_000;

/**
 * Issues the single-use challenge that /v1/auth/login/mfa redeems. Password and external sign-in
 * both go through here, so the challenge's lifetime and starting state cannot drift between them.
 */
export function issueMfaChallenge(
  tokens: OneTimeTokens,
  executor: Kysely<DB>,
  challenge: { realm: Realm; principalId: string; now: Date; amr: string[]; provider?: string; enrol?: boolean },
): Promise<string> {
  const data: ChallengeData = {
    attempts: 0,
    amr: challenge.amr,
    ...(challenge.provider ? { provider: challenge.provider } : {}),
    ...(challenge.enrol ? { enrol: true } : {}),
  };
  return tokens.issue(executor, {
    purpose: 'mfa_challenge',
    realm: challenge.realm,
    principalId: challenge.principalId,
    expiresAt: new Date(challenge.now.getTime() + MFA_CHALLENGE_MS),
    data: { ...data },
  });
}
