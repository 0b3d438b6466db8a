import type { Kysely, Transaction } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';

export async function findFactor(db: Kysely<DB>, realm: Realm, principalId: string) {
  return db
    .selectFrom('totp_factors')
    .select(['secret_sealed', 'confirmed_at', 'last_step'])
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
}

/** Locks the factor so two codes checked at once cannot both pass the replay check. */
export async function lockFactor(trx: Transaction<DB>, realm: Realm, principalId: string) {
  return trx
    .selectFrom('totp_factors')
    .select(['secret_sealed', 'confirmed_at', 'last_step'])
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .forUpdate()
    .executeTakeFirst();
}

/** Replaces any unconfirmed factor; a confirmed one is left alone (the caller checks first). */
export async function upsertPendingFactor(db: Kysely<DB>, realm: Realm, principalId: string, secretSealed: Buffer): Promise<void> {
  await db
    .insertInto('totp_factors')
    .values({ realm, principal_id: principalId, secret_sealed: secretSealed })
    .onConflict((oc) => oc.columns(['realm', 'principal_id']).doUpdateSet({ secret_sealed: secretSealed, last_step: null }).where('totp_factors.confirmed_at', 'is', null))
    .execute();
}

export async function acceptStep(trx: Transaction<DB>, realm: Realm, principalId: string, step: number, confirmAt?: Date): Promise<void> {
  await trx
    .updateTable('totp_factors')
    .set({ last_step: step, ...(confirmAt ? { confirmed_at: confirmAt } : {}) })
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .execute();
}

export async function deleteFactor(trx: Transaction<DB>, realm: Realm, principalId: string): Promise<void> {
  await trx.deleteFrom('totp_factors').where('realm', '=', realm).where('principal_id', '=', principalId).execute();
  await trx.deleteFrom('recovery_codes').where('realm', '=', realm).where('principal_id', '=', principalId).execute();
}

export async function replaceRecoveryCodes(trx: Transaction<DB>, realm: Realm, principalId: string, hashes: Buffer[]): Promise<void> {
  await trx.deleteFrom('recovery_codes').where('realm', '=', realm).where('principal_id', '=', principalId).execute();
  await trx
    .insertInto('recovery_codes')
    .values(hashes.map((code_hash) => ({ realm, principal_id: principalId, code_hash })))
    .execute();
}

/** Spends a recovery code if it exists unused; true when it was spent now. */
export async function spendRecoveryCode(trx: Transaction<DB>, realm: Realm, principalId: string, hash: Buffer, now: Date): Promise<boolean> {
  const result = await trx
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
