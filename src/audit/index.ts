import type { Kysely, Transaction } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';

/** Security-relevant actions Rampart records itself. A change to a stored name is a schema change. */
export type SecurityAction =
  | 'auth.signup' // an account was created
  | 'auth.login.succeeded' // a sign-in completed (after MFA when on)
  | 'auth.login.failed' // wrong password, unknown account, locked, or wrong second factor
  | 'auth.refresh_token_reused' // a spent refresh token came back: the session was revoked
  | 'auth.logout' // the session ended at the user's request
  | 'auth.external_identity.linked' // an OpenID Connect identity was attached to the account with its verified email
  | 'account.claimed' // the proven owner of a never-verified address took the account over; metadata lists what was cleared
  | 'email.verified' // the address was proven by the mailed link
  | 'password.changed' // changed by the signed-in user
  | 'password.reset_requested' // a reset link was mailed
  | 'password.reset' // changed through a reset link; every session revoked
  | 'mfa.enrolled' // TOTP confirmed and switched on
  | 'mfa.disabled' // TOTP switched off
  | 'mfa.recovery_code_used' // a recovery code replaced the TOTP code
  | 'session.revoked' // one or more sessions revoked by the user
  | 'account.exported' // the user downloaded their personal data
  | 'account.deletion_requested' // the account was closed; purge scheduled
  | 'staff.disabled' // a platform staff account was disabled (rampart admin disable)
  | 'org.created' // an organization was created; its creator is the owner
  | 'org.settings_changed' // settings changed; metadata holds before and after
  | 'member.role_changed' // a member's role changed; metadata holds before and after
  | 'member.removed' // a member was removed, or left
  | 'invitation.sent' // an invitation was mailed; metadata holds its id, the address and the role
  | 'invitation.accepted' // the invitee joined the org with the invited role
  | 'invitation.revoked' // a pending invitation was withdrawn before use
  | 'api_key.issued' // an org API key was created; metadata holds its id, name, scopes and expiry, never the key
  | 'api_key.revoked'; // an org API key was revoked; metadata holds its id and name

export interface SecurityEvent {
  realm: Realm;
  /** The organization the event belongs to, for org-level actions. */
  tenantId?: string;
  principalId: string | null;
  action: SecurityAction;
  ip: string | null;
  userAgent: string | null;
  metadata?: Record<string, unknown>;
  at: Date;
}

/**
 * The one seam through which modules record security events, inside the transaction of the action
 * they describe. Today it writes the principal's security history; the audit issue extends it to
 * the hash-chained tenant logs without changing callers.
 */
export async function recordAuditEvent(executor: Kysely<DB> | Transaction<DB>, event: SecurityEvent): Promise<void> {
  await executor
    .insertInto('security_events')
    .values({
      realm: event.realm,
      principal_id: event.principalId,
      action: event.action,
      ip: event.ip,
      // Bounded like a session's: a header is the client's to make as long as it likes.
      user_agent: event.userAgent?.slice(0, 512) ?? null,
      // Until the audit issue adds per-tenant chains, the org rides in the metadata.
      metadata: JSON.stringify(event.tenantId ? { ...event.metadata, tenant_id: event.tenantId } : (event.metadata ?? {})),
      at: event.at,
    })
    .execute();
}
