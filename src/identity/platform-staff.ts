import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { IdentityConfig } from '../config.js';
import type { DB } from '../platform/db/index.js';
import { normalizeEmail } from './email.js';
import { identityErrors } from './identity.errors.js';
import { createPasswordHasher } from './passwords.js';
import { generateReadableSecret } from './secret-tokens.js';
import { revokeSessions } from './sessions.repository.js';


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
  // 24 readable characters, about 119 bits: typed once, then kept in a password manager.
  const initialPassword = generateReadableSecret(4, 6);
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

/**
 * Offboards a staff member: sign-in is refused from now on, every session is revoked and every
 * token already issued stops working on its next request.
 */
export async function disablePlatformStaff(db: Kysely<DB>, emailInput: string, now: Date): Promise<{ id: string; email: string; sessionsRevoked: number }> {
  const email = normalizeEmail(emailInput);
  if (!email) throw identityErrors.invalid_email();
  return db.transaction().execute(async (trx) => {
    const staff = await trx
      .updateTable('platform_staff')
      .set((eb) => ({ disabled_at: now, updated_at: now, token_version: eb('token_version', '+', 1) }))
      .where('email', '=', email)
      .where('disabled_at', 'is', null)
      .returning(['id', 'email'])
      .executeTakeFirst();
    if (!staff) throw identityErrors.not_found('No active staff account has this email');
    const revoked = await revokeSessions(trx, { realm: 'platform', principalId: staff.id }, 'staff_disabled', now);
    await recordAuditEvent(trx, { realm: 'platform', principalId: staff.id, action: 'staff.disabled', ip: null, userAgent: null, metadata: { sessions_revoked: revoked.length }, at: now });
    return { id: staff.id, email: staff.email, sessionsRevoked: revoked.length };
  });
}

/** Addresses of every staff member not offboarded: who is alerted about the platform's own failures (a failed restore drill). */
export async function activePlatformStaffEmails(db: Kysely<DB>): Promise<string[]> {
  const rows = await db.selectFrom('platform_staff').select('email').where('disabled_at', 'is', null).orderBy('email').execute();
  return rows.map((row) => row.email);
}
