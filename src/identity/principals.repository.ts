import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';

/** The table holding a realm's principals; users and staff share the columns sign-in needs. */
function tableOf(realm: Realm): 'users' | 'platform_staff' {
  return realm === 'user' ? 'users' : 'platform_staff';
}

export interface PrincipalRow {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  token_version: number;
  active: boolean;
  /** Whether the principal has confirmed TOTP; read with the principal so per-request MFA policies cost no query. */
  mfa_enabled: boolean;
}

export async function findPrincipalByEmail(db: Kysely<DB>, realm: Realm, email: string): Promise<PrincipalRow | undefined> {
  return selectPrincipal(db, realm).where('email', '=', email).executeTakeFirst();
}

export async function findPrincipalById(db: Kysely<DB>, realm: Realm, id: string): Promise<PrincipalRow | undefined> {
  return selectPrincipal(db, realm).where('id', '=', id).executeTakeFirst();
}

function selectPrincipal(db: Kysely<DB>, realm: Realm) {
  // A user is usable while not deleted; a staff member while not disabled.
  const active = realm === 'user' ? sql<boolean>`status = 'active'` : sql<boolean>`disabled_at is null`;
  const table = tableOf(realm);
  const mfaEnabled = sql<boolean>`exists (select 1 from totp_factors f where f.realm = ${realm} and f.principal_id = ${sql.ref(`${table}.id`)} and f.confirmed_at is not null)`;
  return db.selectFrom(table).select(['id', 'email', 'name', 'password_hash', 'token_version', active.as('active'), mfaEnabled.as('mfa_enabled')]);
}

export async function updatePasswordHash(db: Kysely<DB>, realm: Realm, id: string, hash: string, now: Date): Promise<void> {
  await db
    .updateTable(tableOf(realm))
    .set({ password_hash: hash, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Refuses every access token issued so far to the principal (they must refresh). */
export async function bumpTokenVersion(db: Kysely<DB>, realm: Realm, id: string): Promise<void> {
  await db
    .updateTable(tableOf(realm))
    .set((eb) => ({ token_version: eb('token_version', '+', 1) }))
    .where('id', '=', id)
    .execute();
}
