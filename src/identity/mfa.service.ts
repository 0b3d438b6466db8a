import type { Kysely, Transaction } from 'kysely';
import { seal, unseal } from '../crypto/seal.js';
import type { Clock } from '../platform/clock.js';
import type { DB, Realm } from '../platform/db/index.js';
import { identityErrors } from './identity.errors.js';
import * as repo from './mfa.repository.js';
import { generateReadableSecret, hashSecretToken } from './secret-tokens.js';
import { createTotpEnrolment, matchTotpStep } from './totp.js';
import type { TotpEnrolment } from './totp.js';

// 10 characters each, about 49.5 bits: easy to type from paper, useless to guess online.
const RECOVERY_CODE_COUNT = 10;

export interface MfaDependencies {
  db: Kysely<DB>;
  clock: Clock;
  /** Seals TOTP secrets (the secrets hierarchy, separate from data keys). */
  secretsKey: Buffer;
  /** Keys the hashes of recovery codes. */
  codeHashKey: Buffer;
  issuer: string;
}

function sealingContext(realm: Realm, principalId: string): string {
  return `totp:${realm}:${principalId}`;
}


function normalizeRecoveryCode(code: string): string {
  const compact = code.toLowerCase().replace(/[^a-z0-9]/g, '');
  return `${compact.slice(0, 5)}-${compact.slice(5)}`;
}

/** TOTP factors and recovery codes, for both realms. */
export function createMfa(deps: MfaDependencies) {
  const { db, clock } = deps;

  async function secretOf(realm: Realm, principalId: string, sealed: Buffer): Promise<string> {
    return unseal(deps.secretsKey, sealed, sealingContext(realm, principalId)).toString('utf8');
  }

  /** Checks a TOTP code inside `trx` and remembers its step, so the same code never passes twice. */
  async function acceptTotp(trx: Transaction<DB>, realm: Realm, principalId: string, code: string, confirming: boolean): Promise<boolean> {
    const factor = await repo.lockFactor(trx, realm, principalId);
    if (!factor || Boolean(factor.confirmed_at) === confirming) return false;
    const now = clock.now();
    const step = matchTotpStep(await secretOf(realm, principalId, factor.secret_sealed), code, now);
    if (step === null || (factor.last_step !== null && step <= factor.last_step)) return false;
    await repo.acceptStep(trx, realm, principalId, step, confirming ? now : undefined);
    return true;
  }

  return {
    async isEnabled(realm: Realm, principalId: string): Promise<boolean> {
      return Boolean((await repo.findFactor(db, realm, principalId))?.confirmed_at);
    },

    /** Starts enrolment: a new secret, inactive until a code from it is confirmed. */
    async beginEnrolment(realm: Realm, principalId: string, label: string): Promise<TotpEnrolment> {
      if ((await repo.findFactor(db, realm, principalId))?.confirmed_at) throw identityErrors.mfa_already_enabled();
      const enrolment = await createTotpEnrolment(label, deps.issuer);
      await repo.upsertPendingFactor(db, realm, principalId, seal(deps.secretsKey, Buffer.from(enrolment.secret), sealingContext(realm, principalId)));
      return enrolment;
    },

    /** Confirms enrolment with a valid code and returns the recovery codes, shown this once. */
    async confirmEnrolment(trx: Transaction<DB>, realm: Realm, principalId: string, code: string): Promise<string[]> {
      if (!(await acceptTotp(trx, realm, principalId, code, true))) throw identityErrors.invalid_code();
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => generateReadableSecret(2, 5));
      await repo.replaceRecoveryCodes(trx, realm, principalId, codes.map((c) => hashSecretToken(deps.codeHashKey, c)));
      return codes;
    },

    /**
     * Verifies a second factor for sign-in: a TOTP code (once per step) or an unused recovery
     * code (spent now). Says which, so a recovery code's use can be audited.
     */
    async verifySecondFactor(trx: Transaction<DB>, realm: Realm, principalId: string, code: string): Promise<'totp' | 'recovery_code' | null> {
      if (/^\d{6}$/.test(code.trim())) return (await acceptTotp(trx, realm, principalId, code.trim(), false)) ? 'totp' : null;
      const hash = hashSecretToken(deps.codeHashKey, normalizeRecoveryCode(code));
      return (await repo.spendRecoveryCode(trx, realm, principalId, hash, clock.now())) ? 'recovery_code' : null;
    },

    disable: (trx: Transaction<DB>, realm: Realm, principalId: string) => repo.deleteFactor(trx, realm, principalId),
  };
}

export type Mfa = ReturnType<typeof createMfa>;
