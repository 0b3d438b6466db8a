import type { Kysely, Selectable } from 'kysely';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { Role } from './permissions.js';

export type InvitationRow = Selectable<DB['invitations']>;

export async function insertInvitation(
  trx: TenantTransaction,
  invitation: { tenantId: string; id: string; email: string; role: Role; tokenHash: Buffer; invitedBy: string; expiresAt: Date; createdAt: Date },
): Promise<void> {
  await trx
    .insertInto('invitations')
    .values({
      tenant_id: invitation.tenantId,
      invitation_id: invitation.id,
      email: invitation.email,
      role: invitation.role,
      token_hash: invitation.tokenHash,
      invited_by: invitation.invitedBy,
      expires_at: invitation.expiresAt,
      created_at: invitation.createdAt,
    })
    .execute();
}

export async function listInvitations(trx: TenantTransaction, tenantId: string): Promise<InvitationRow[]> {
  return trx.selectFrom('invitations').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('invitation_id').execute();
}

/** Whether a usable invitation for `email` is outstanding, so a second link is not sent beside it. */
export async function hasPendingInvitation(trx: TenantTransaction, tenantId: string, email: string, now: Date): Promise<boolean> {
  const row = await trx
    .selectFrom('invitations')
    .select('invitation_id')
    .where('tenant_id', '=', tenantId)
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}

/** Locks the invitation so revocation and acceptance are decided one at a time. */
export async function lockInvitationById(trx: TenantTransaction, tenantId: string, invitationId: string): Promise<InvitationRow | undefined> {
  return trx.selectFrom('invitations').selectAll().where('tenant_id', '=', tenantId).where('invitation_id', '=', invitationId).forUpdate().executeTakeFirst();
}

/** Locks the invitation a token names: two acceptances of one token cannot both see it pending. */
export async function lockInvitationByHash(trx: TenantTransaction, tenantId: string, tokenHash: Buffer): Promise<InvitationRow | undefined> {
  return trx.selectFrom('invitations').selectAll().where('tenant_id', '=', tenantId).where('token_hash', '=', tokenHash).forUpdate().executeTakeFirst();
}

export async function findInvitationByHash(trx: TenantTransaction, tenantId: string, tokenHash: Buffer): Promise<InvitationRow | undefined> {
  return trx.selectFrom('invitations').selectAll().where('tenant_id', '=', tenantId).where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function markAccepted(trx: TenantTransaction, tenantId: string, invitationId: string, userId: string, now: Date): Promise<void> {
  await trx.updateTable('invitations').set({ accepted_at: now, accepted_by: userId }).where('tenant_id', '=', tenantId).where('invitation_id', '=', invitationId).execute();
}

export async function markRevoked(trx: TenantTransaction, tenantId: string, invitationId: string, now: Date): Promise<void> {
  await trx.updateTable('invitations').set({ revoked_at: now }).where('tenant_id', '=', tenantId).where('invitation_id', '=', invitationId).execute();
}

/** Revokes the still-open invitations `userId` sent before `before`; returns those this call revoked. */
export async function revokeInvitationsSentBy(trx: TenantTransaction, tenantId: string, userId: string, before: Date, now: Date): Promise<InvitationRow[]> {
  return trx
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('tenant_id', '=', tenantId)
    .where('invited_by', '=', userId)
    .where('created_at', '<=', before)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .execute();
}

/**
 * The account holding `email`, read by the owner connection before the tenant transaction opens
 * (the application role has no grant on users), so an invitation to a member can be refused.
 */
export async function findUserIdByEmail(db: Kysely<DB>, email: string): Promise<string | undefined> {
  const row = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  return row?.id;
}

/** The caller's own address and whether it is proven, read outside the tenant transaction like the above. */
export async function findUserEmail(db: Kysely<DB>, userId: string): Promise<{ email: string; verified: boolean } | undefined> {
  const row = await db.selectFrom('users').select(['email', 'email_verified_at']).where('id', '=', userId).where('status', '=', 'active').executeTakeFirst();
  return row ? { email: row.email, verified: row.email_verified_at !== null } : undefined;
}
