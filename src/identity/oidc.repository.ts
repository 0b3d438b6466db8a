import type { Kysely } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';

/** The account an external identity (provider id + the provider's `sub`) signs in to, if linked. */
export async function findLinkedUserId(db: Kysely<DB>, provider: string, subject: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('external_identities')
    .select('user_id')
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row?.user_id;
}

/** Idempotent: two simultaneous first sign-ins of the same identity both end linked to the same account. */
export async function linkExternalIdentity(db: Kysely<DB>, provider: string, subject: string, userId: string): Promise<void> {
  await db
    .insertInto('external_identities')
    .values({ provider, subject, user_id: userId })
    .onConflict((oc) => oc.columns(['provider', 'subject']).doNothing())
    .execute();
}

export interface LinkCandidate {
  id: string;
  active: boolean;
  email_verified: boolean;
  has_password: boolean;
}

/** The account holding a normalized email, with what linking needs to know about it. */
export async function findLinkCandidate(db: Kysely<DB>, email: string): Promise<LinkCandidate | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'status', 'email_verified_at', 'password_hash'])
    .where('email', '=', email)
    // Locked: what is decided from this row (claim it, link it) must still hold at commit.
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  return { id: row.id, active: row.status === 'active', email_verified: row.email_verified_at !== null, has_password: row.password_hash !== null };
}

/** Creates a password-less account; returns false if the email was taken meanwhile. */
export async function insertExternalUser(
  db: Kysely<DB>,
  user: { id: string; email: string; name: string | null; emailVerifiedAt: Date | null },
): Promise<boolean> {
  const result = await db
    .insertInto('users')
    .values({ id: user.id, email: user.email, name: user.name, password_hash: null, email_verified_at: user.emailVerifiedAt })
    .onConflict((oc) => oc.column('email').doNothing())
    .executeTakeFirst();
  return result.numInsertedOrUpdatedRows === 1n;
}

/**
 * The provider proved the address an unverified account was registered with: whoever set that
 * account's password never did, so the password goes (pre-account-takeover defence) and the
 * address counts as verified.
 */
export async function claimUnverifiedAccount(db: Kysely<DB>, userId: string, now: Date): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: null, email_verified_at: now, updated_at: now })
    .where('id', '=', userId)
    .execute();
}

/** Removes every external identity linked to the account; returns how many there were. */
export async function deleteExternalIdentities(db: Kysely<DB>, userId: string): Promise<number> {
  const result = await db.deleteFrom('external_identities').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Removes the account's external identities if its email is not verified, and returns how many.
 * External sign-in now links only on a verified email, so any such link predates that rule and
 * may belong to whoever pre-registered the address.
 */
export async function deleteIdentitiesOfUnverifiedAccount(db: Kysely<DB>, userId: string): Promise<number> {
  const result = await db
    .deleteFrom('external_identities')
    .where('user_id', '=', userId)
    .where((eb) => eb.exists(eb.selectFrom('users').select('users.id').where('users.id', '=', userId).where('users.email_verified_at', 'is', null)))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Spends every live single-use token a principal holds, whatever its purpose (MFA challenges,
 * reset and verification links), so none issued to a previous holder can still be redeemed.
 */
export async function spendLiveTokensOf(db: Kysely<DB>, realm: Realm, principalId: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('one_time_tokens')
    .set({ used_at: now })
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
