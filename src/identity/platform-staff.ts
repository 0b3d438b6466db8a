import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { IdentityConfig } from '../config.js';
import type { DB } from '../platform/db/index.js';
import { normalizeEmail } from './email.js';
import { identityErrors } from './identity.errors.js';
import { createPasswordHasher } from './passwords.js';

// 24 characters from a 32-letter alphabet: 120 bits, typed once and then changed or kept in a vault.
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function generateInitialPassword(): string {
  const chars = [...randomBytes(24)].map((byte) => PASSWORD_ALPHABET[byte % PASSWORD_ALPHABET.length]).join('');
  return chars.match(/.{6}/g)!.join('-');
}

/**
 * Creates a platform staff account: the only way one comes to exist (no HTTP route creates staff).
 * The initial password is random and shown once; the account can do nothing until its holder has
 * signed in and enrolled TOTP.
 */
export async function createPlatformStaff(
  db: Kysely<DB>,
  argon2: IdentityConfig['argon2'],
  input: { email: string; name: string | null },
): Promise<{ id: string; email: string; initialPassword: string }> {
  const email = normalizeEmail(input.email);
  if (!email) throw identityErrors.invalid_email();
  const initialPassword = generateInitialPassword();
  const hash = await (await createPasswordHasher(argon2)).hash(initialPassword);
  const id = randomUUID();
  const inserted = await db
    .insertInto('platform_staff')
    .values({ id, email, name: input.name, password_hash: hash })
    .onConflict((oc) => oc.column('email').doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows !== 1n) throw identityErrors.email_taken('A staff account with this email already exists');
  return { id, email, initialPassword };
}
