import type { Kysely, Transaction } from 'kysely';
import type { DB, OneTimeTokenPurpose, Realm } from '../platform/db/index.js';
import { generateSecretToken, hashSecretToken } from './secret-tokens.js';

/** Single-use tokens (email links, MFA challenges): random, stored as keyed hashes, expiring. */
export function createOneTimeTokens(hashKey: Buffer) {
  return {
    async issue(
      executor: Kysely<DB>,
      token: { purpose: OneTimeTokenPurpose; realm: Realm; principalId: string | null; expiresAt: Date; data?: Record<string, unknown> },
    ): Promise<string> {
      const value = generateSecretToken();
      await executor
        .insertInto('one_time_tokens')
        .values({
          token_hash: hashSecretToken(hashKey, value),
          purpose: token.purpose,
          realm: token.realm,
          principal_id: token.principalId,
          expires_at: token.expiresAt,
          data: JSON.stringify(token.data ?? {}),
        })
        .execute();
      return value;
    },

    /**
     * Locks a live token of `purpose` for the rest of `trx`, or returns undefined for an unknown,
     * spent or expired one (all the same to the caller: "invalid or expired").
     */
    async lock(trx: Transaction<DB>, purpose: OneTimeTokenPurpose, value: string, now: Date) {
      return trx
        .selectFrom('one_time_tokens')
        .select(['token_hash', 'realm', 'principal_id', 'data'])
        .where('token_hash', '=', hashSecretToken(hashKey, value))
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .forUpdate()
        .executeTakeFirst();
    },

    async spend(trx: Transaction<DB>, tokenHash: Buffer, now: Date): Promise<void> {
      await trx.updateTable('one_time_tokens').set({ used_at: now }).where('token_hash', '=', tokenHash).execute();
    },

    /** Spends every live token of `purpose` held by a principal: a used reset link voids its siblings. */
    async spendAll(trx: Transaction<DB>, purpose: OneTimeTokenPurpose, realm: Realm, principalId: string, now: Date): Promise<void> {
      await trx
        .updateTable('one_time_tokens')
        .set({ used_at: now })
        .where('purpose', '=', purpose)
        .where('realm', '=', realm)
        .where('principal_id', '=', principalId)
        .where('used_at', 'is', null)
        .execute();
    },

    async updateData(trx: Transaction<DB>, tokenHash: Buffer, data: Record<string, unknown>): Promise<void> {
      await trx.updateTable('one_time_tokens').set({ data: JSON.stringify(data) }).where('token_hash', '=', tokenHash).execute();
    },
  };
}

export type OneTimeTokens = ReturnType<typeof createOneTimeTokens>;
