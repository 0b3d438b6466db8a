import type { Kysely, Transaction } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant, withUser } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import { revokeApiKeysCreatedBy } from './api-keys.repository.js';
import { revokeInvitationsSentBy } from './invitations.repository.js';
import { listOrgsOfUser, lockTenant } from './orgs.repository.js';

export const REVOKE_CLAIMED_GRANTS_JOB = 'tenancy.revoke_claimed_account_grants';

interface Payload {
  userId: string;
  /** When the account was claimed: only what existed then was the squatter's. */
  claimedAt: string;
}

/**
 * When the proven owner of an address takes over an account nobody had verified (identity's OIDC
 * claim), whoever registered it may be a squatter, and what they set up in orgs acts on its own:
 * API keys work without a session, invitations they sent can still be accepted. Identity clears the
 * account itself; this revokes those, org by org, through a job enqueued in the claim's transaction
 * (which holds the database's only connection on PGlite, and may not open tenant transactions).
 */
export function createClaimedAccountGrants(deps: { db: Kysely<DB>; clock: Clock; jobs: JobQueue }) {
  const { db, clock } = deps;

  // Idempotent: only keys and invitations still live are revoked and audited, so a run that died
  // half-way, or a second delivery, finishes the rest and repeats nothing.
  deps.jobs.register(REVOKE_CLAIMED_GRANTS_JOB, async (job) => {
    const { userId, claimedAt } = job.payload as Payload;
    const before = new Date(claimedAt);
    const orgs = await withUser(db, userId, (trx) => listOrgsOfUser(trx, userId));
    for (const { tenant_id: tenantId } of orgs) {
      await withTenant(db, tenantId, async (trx) => {
        await lockTenant(trx, tenantId);
        const now = clock.now();
        const audit = (action: 'api_key.revoked' | 'invitation.revoked', metadata: Record<string, unknown>) =>
          recordAuditEvent(trx, { realm: 'user', tenantId, principalId: null, actor: { type: 'system', id: null }, action, ip: null, userAgent: null, metadata, at: now });
        for (const key of await revokeApiKeysCreatedBy(trx, tenantId, userId, before, now)) {
          await audit('api_key.revoked', { key_id: key.key_id, name: key.name });
        }
        for (const invitation of await revokeInvitationsSentBy(trx, tenantId, userId, before, now)) {
          await audit('invitation.revoked', { invitation_id: invitation.invitation_id, email: invitation.email, role: invitation.role });
        }
      });
    }
  });

  /** Queues the revocation in the claim's own transaction: it happens if and only if the claim commits. */
  return async function revokeGrantsOfClaimedAccount(trx: Transaction<DB>, userId: string, claimedAt: Date): Promise<void> {
    const payload: Payload = { userId, claimedAt: claimedAt.toISOString() };
    await deps.jobs.enqueue(trx, REVOKE_CLAIMED_GRANTS_JOB, payload, { idempotencyKey: `${REVOKE_CLAIMED_GRANTS_JOB}:${userId}:${payload.claimedAt}` });
  };
}
