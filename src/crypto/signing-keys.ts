import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { KeyObject, JsonWebKey } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../platform/db/index.js';
import { seal, unseal } from './seal.js';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
}

/** What a key signs; each purpose has its own key so one cannot be replayed as another. */
export type SigningPurpose = 'access-token' | 'audit-checkpoint' | 'document-seal' | 'backup-manifest' | 'backup-drill';

// Serializes key creation across nodes that start together; any constant works.
const KEY_CREATION_LOCK = 7_264_270_882;
/**
 * How long a retired key stays in the JWKS: longer than any token lives (at most an hour) plus
 * clock skew and JWKS caching, and no longer, so a retired key soon stops being trusted anywhere.
 */
const RETIRED_KEY_GRACE_MS = 2 * 3_600_000;

/** Returns the active Ed25519 key for `purpose`, creating it on first start. */
export async function ensureSigningKey(db: Kysely<DB>, sealingKey: Buffer, purpose: SigningPurpose): Promise<SigningKey> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${KEY_CREATION_LOCK})`.execute(trx);
    const row = await trx
      .selectFrom('signing_keys')
      .select(['kid', 'public_jwk', 'private_key_sealed'])
      .where('purpose', '=', purpose)
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!row) return createSigningKey(trx, sealingKey, purpose);
    const der = unseal(sealingKey, row.private_key_sealed, `signing-key:${row.kid}`);
    return { kid: row.kid, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), publicJwk: row.public_jwk as JsonWebKey };
  });
}

/**
 * Retires the active key of `purpose` and creates its successor. Verifiers keep accepting the
 * retired key for RETIRED_KEY_GRACE_MS, so tokens already issued stay valid until they expire.
 * `dropPrevious` (a key believed compromised) unpublishes it at once instead: every token it
 * signed stops verifying, which signs everybody out.
 */
export async function rotateSigningKey(
  db: Kysely<DB>,
  sealingKey: Buffer,
  purpose: SigningPurpose,
  now: Date,
  options: { dropPrevious?: boolean } = {},
): Promise<{ kid: string; retired: string[] }> {
  // Inside the caller's transaction when given one (the rotation and its audit entry commit together).
  if (!db.isTransaction) return db.transaction().execute((trx) => rotateSigningKey(trx, sealingKey, purpose, now, options));
  const trx = db as Transaction<DB>;
  await sql`select pg_advisory_xact_lock(${KEY_CREATION_LOCK})`.execute(trx);
  const retired = await trx
    .updateTable('signing_keys')
    .set({ retired_at: options.dropPrevious ? new Date(now.getTime() - RETIRED_KEY_GRACE_MS) : now })
    .where('purpose', '=', purpose)
    .where('retired_at', 'is', null)
    .returning('kid')
    .execute();
  const { kid } = await createSigningKey(trx, sealingKey, purpose);
  return { kid, retired: retired.map((row) => row.kid) };
}

async function createSigningKey(trx: Transaction<DB>, sealingKey: Buffer, purpose: SigningPurpose): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = randomUUID();
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  await trx
    .insertInto('signing_keys')
    .values({ kid, purpose, public_jwk: JSON.stringify(publicJwk), private_key_sealed: seal(sealingKey, der, `signing-key:${kid}`) })
    .execute();
  return { kid, privateKey, publicJwk };
}

/** Public keys that verifiers should accept for `purpose`: the active ones and recently retired ones. */
export async function listPublicKeys(db: Kysely<DB>, purpose: SigningPurpose, now: Date): Promise<JsonWebKey[]> {
  const cutoff = new Date(now.getTime() - RETIRED_KEY_GRACE_MS);
  const rows = await db
    .selectFrom('signing_keys')
    .select('public_jwk')
    .where('purpose', '=', purpose)
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', cutoff)]))
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((row) => row.public_jwk as JsonWebKey);
}

/**
 * Every public key `purpose` ever had, retired ones included: an audit checkpoint signed years ago
 * must still verify, so its key is never unpublished.
 */
export async function listAllPublicKeys(db: Kysely<DB>, purpose: SigningPurpose): Promise<JsonWebKey[]> {
  const rows = await db.selectFrom('signing_keys').select('public_jwk').where('purpose', '=', purpose).orderBy('created_at', 'desc').execute();
  return rows.map((row) => row.public_jwk as JsonWebKey);
}
