import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordOrgAction } from './org-audit.js';
import type { SecurityAction } from '../audit/index.js';
import { generateSecretToken, hashSecretToken, normalizeEmail } from '../identity/index.js';
import type { Principal } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { httpErrors } from '../platform/http/index.js';
import type { Mailer } from '../platform/mail/index.js';
import * as repo from './invitations.repository.js';
import type { InvitationRow } from './invitations.repository.js';
import type { OrgActor, OrgScope } from './org-context.js';
import { findMembership, insertMembership, lockTenant } from './orgs.repository.js';
import { roleAllows } from './permissions.js';
import type { Plan, PlanPolicy, Role } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';
import type { RequestMeta } from '../platform/http/index.js';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface InvitationView {
  id: string;
  email: string;
  role: Role;
  invited_by: string;
  created_at: string;
  expires_at: string;
  status: InvitationStatus;
}

export interface InvitationDependencies {
  db: Kysely<DB>;
  clock: Clock;
  mailer: Mailer;
  publicUrl: string;
  /** Keys the stored hash of invitation tokens. */
  tokenHashKey: Buffer;
  plans: Readonly<Record<Plan, PlanPolicy>>;
}

const INVITATION_TTL_MS = 7 * 24 * 3_600_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// generateSecretToken's 32 bytes in base64url, without padding.
const SECRET = /^[A-Za-z0-9_-]{43}$/;

function statusOf(row: InvitationRow, now: Date): InvitationStatus {
  if (row.accepted_at) return 'accepted';
  if (row.revoked_at) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

function viewOf(row: InvitationRow, now: Date): InvitationView {
  return {
    id: row.invitation_id,
    email: row.email,
    role: row.role,
    invited_by: row.invited_by,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    status: statusOf(row, now),
  };
}

/**
 * A token is `<tenant id>.<secret>`: the tenant part lets the accept route open that tenant's scope
 * and look the hash up there, with no query across tenants. The hash covers the whole token, so a
 * token whose tenant part is changed matches nothing anywhere.
 */
function parseToken(token: string): { tenantId: string } | null {
  const dot = token.indexOf('.');
  const tenantId = token.slice(0, dot);
  return dot > 0 && UUID.test(tenantId) && SECRET.test(token.slice(dot + 1)) ? { tenantId: tenantId.toLowerCase() } : null;
}

/** Invitations into an org: sending, listing, revoking, and accepting with the mailed link. */
export function createInvitations(deps: InvitationDependencies) {
  const { db, clock } = deps;

  const audit = (trx: TenantTransaction, tenantId: string, actor: OrgActor, action: SecurityAction, meta: RequestMeta, metadata: Record<string, unknown>) =>
    recordOrgAction(trx, clock.now(), { tenantId, actor }, action, meta, metadata);

  /** Whether a locked invitation may still be used; the message says why not to the token holder. */
  function assertUsable(invitation: InvitationRow | undefined, now: Date): InvitationRow {
    if (!invitation) throw tenancyErrors.invalid_token();
    const status = statusOf(invitation, now);
    if (status === 'accepted') throw tenancyErrors.invalid_token('This invitation has already been accepted');
    if (status === 'revoked') throw tenancyErrors.invalid_token('This invitation has been revoked; ask the organization for a new one');
    if (status === 'expired') throw tenancyErrors.invalid_token('This invitation has expired; ask the organization for a new one');
    return invitation;
  }

  return {
    /** Admins invite `admin` or `member`; only owners invite `owner`. The link goes out only if the invitation commits. */
    async invite(scope: OrgScope, input: { email: string; role: Role }, meta: RequestMeta): Promise<Omit<InvitationView, 'invited_by' | 'created_at' | 'status'>> {
      const email = normalizeEmail(input.email);
      if (!email) throw httpErrors.invalid_request('Enter a valid email address');
      const existingUserId = await repo.findUserIdByEmail(db, email);
      const id = randomUUID();
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
      // Locked: invitations to one org are decided one at a time, so two at once cannot both find no pending one.
      await scope(async (trx, context) => {
        if (input.role === 'owner' && !roleAllows(context.role, context.plan, 'owners:manage')) throw tenancyErrors.forbidden('Only owners may invite owners');
        const token = `${context.tenantId}.${generateSecretToken()}`;
        if (existingUserId && (await findMembership(trx, context.tenantId, existingUserId))) throw tenancyErrors.already_member();
        if (await repo.hasPendingInvitation(trx, context.tenantId, email, now)) throw tenancyErrors.invitation_pending();
        await repo.insertInvitation(trx, {
          tenantId: context.tenantId,
          id,
          email,
          role: input.role,
          tokenHash: hashSecretToken(deps.tokenHashKey, token),
          invitedBy: context.actor.id,
          expiresAt,
          createdAt: now,
        });
        const link = `${deps.publicUrl}/accept-invitation?token=${encodeURIComponent(token)}`;
        // The org name is chosen by its members; collapsed to one line so it cannot break the subject.
        const orgName = context.org.name.replace(/\s+/g, ' ').trim();
        await deps.mailer.sendMail(trx, {
          to: email,
          subject: `You are invited to join ${orgName}`,
          text: `You have been invited to join "${orgName}" as ${input.role}. Accept within 7 days, signed in with this email address:\n\n${link}\n\nIf you did not expect this, ignore this message.`,
        });
        await audit(trx, context.tenantId, context.actor, 'invitation.sent', meta, { invitation_id: id, email, role: input.role });
      }, { lock: true });
      return { id, email, role: input.role, expires_at: expiresAt.toISOString() };
    },

    async list(scope: OrgScope): Promise<InvitationView[]> {
      const rows = await scope((trx, context) => repo.listInvitations(trx, context.tenantId));
      const now = clock.now();
      return rows.map((row) => viewOf(row, now));
    },

    /** Revokes a pending invitation; revoking twice is harmless. Revoking an owner invitation takes an owner. */
    async revoke(scope: OrgScope, invitationId: string, meta: RequestMeta): Promise<void> {
      await scope(async (trx, context) => {
        const invitation = await repo.lockInvitationById(trx, context.tenantId, invitationId);
        if (!invitation) throw tenancyErrors.not_found('No such invitation');
        if (invitation.role === 'owner' && !roleAllows(context.role, context.plan, 'owners:manage')) throw tenancyErrors.forbidden('Only owners may revoke an invitation to become owner');
        if (invitation.accepted_at) throw tenancyErrors.invitation_accepted();
        if (invitation.revoked_at) return;
        await repo.markRevoked(trx, context.tenantId, invitationId, clock.now());
        await audit(trx, context.tenantId, context.actor, 'invitation.revoked', meta, { invitation_id: invitationId, email: invitation.email, role: invitation.role });
      }, { lock: true });
    },

    /**
     * Makes the caller a member with the invited role. Only the person the link was mailed to may
     * use it: a signed-in account whose verified email is the invited one. A caller with another
     * address learns nothing about the org.
     */
    async accept(principal: Principal, token: string, meta: RequestMeta): Promise<{ org: { id: string; name: string }; role: Role }> {
      const parsed = parseToken(token);
      if (!parsed) throw tenancyErrors.invalid_token();
      const { tenantId } = parsed;
      // Read before the tenant transaction: the application role cannot see accounts.
      const account = await repo.findUserEmail(db, principal.id);
      if (!account) throw tenancyErrors.forbidden('This invitation was sent to a different email address');
      if (!account.verified) throw tenancyErrors.email_not_verified();
      return withTenant(db, tenantId, async (trx) => {
        // Taken first, as by every role change: the inviter's role read below cannot go stale before this commits.
        const org = await lockTenant(trx, tenantId);
        const now = clock.now();
        const invitation = assertUsable(await repo.lockInvitationByHash(trx, tenantId, hashSecretToken(deps.tokenHashKey, token)), now);
        if (invitation.email !== account.email) throw tenancyErrors.forbidden('This invitation was sent to a different email address');
        if (await findMembership(trx, tenantId, principal.id)) throw tenancyErrors.already_member('You are already a member of this organization');
        if (!org) throw tenancyErrors.invalid_token();
        // The invitation carries its sender's authority: void once they left or may no longer invite that role.
        const inviter = await findMembership(trx, tenantId, invitation.invited_by);
        const plan = deps.plans[org.plan];
        const inviterMay = inviter && roleAllows(inviter.role, plan, 'members:invite') && (invitation.role !== 'owner' || roleAllows(inviter.role, plan, 'owners:manage'));
        if (!inviterMay) throw tenancyErrors.invalid_token('This invitation is no longer valid: ask the organization for a new one');
        await insertMembership(trx, tenantId, principal.id, invitation.role);
        await repo.markAccepted(trx, tenantId, invitation.invitation_id, principal.id, now);
        await audit(trx, tenantId, { type: 'user', id: principal.id }, 'invitation.accepted', meta, { invitation_id: invitation.invitation_id, role: invitation.role });
        return { org: { id: org.tenant_id, name: org.name }, role: invitation.role };
      });
    },

    /**
     * Whether `token` is a pending invitation for `email`: identity asks this in invite-only mode
     * before it creates an account, and treats the address as proven by the link.
     */
    async isInvited(token: string, email: string): Promise<boolean> {
      const parsed = parseToken(token);
      if (!parsed) return false;
      const invitation = await withTenant(db, parsed.tenantId, (trx) => repo.findInvitationByHash(trx, parsed.tenantId, hashSecretToken(deps.tokenHashKey, token)));
      return invitation !== undefined && statusOf(invitation, clock.now()) === 'pending' && invitation.email === email;
    },
  };
}

export type Invitations = ReturnType<typeof createInvitations>;
