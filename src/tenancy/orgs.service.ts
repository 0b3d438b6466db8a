import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordOrgAction } from './org-audit.js';
import type { SecurityAction } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant, withUser } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { OrgActor, OrgScope } from './org-context.js';
import * as repo from './orgs.repository.js';
import type { OrgSettings, TenantRow } from './orgs.repository.js';
import { loosensMfa, rank, roleAllows } from './permissions.js';
import type { Role } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';
import type { RequestMeta } from '../platform/http/index.js';


export interface OrgView {
  id: string;
  name: string;
  plan: string;
  mfa_required_for: TenantRow['mfa_required_for'];
  invite_only: boolean;
  retention_days: number;
  erasure_grace_days: number;
  created_at: string;
}

function viewOf(org: TenantRow): OrgView {
  return {
    id: org.tenant_id,
    name: org.name,
    plan: org.plan,
    mfa_required_for: org.mfa_required_for,
    invite_only: org.invite_only,
    retention_days: org.retention_days,
    erasure_grace_days: org.erasure_grace_days,
    created_at: org.created_at.toISOString(),
  };
}

const SETTING_KEYS = ['name', 'mfa_required_for', 'invite_only', 'retention_days', 'erasure_grace_days'] as const;

/** Organizations and their members: creation, settings, roles, removal. */
export function createOrgs(deps: { db: Kysely<DB>; clock: Clock }) {
  const { db, clock } = deps;

  const audit = (trx: TenantTransaction, context: { tenantId: string; actor: OrgActor }, action: SecurityAction, meta: RequestMeta, metadata: Record<string, unknown>) =>
    recordOrgAction(trx, clock.now(), context, action, meta, metadata);

  /** Loads the target membership; a user who is not a member of this org is 404. */
  async function targetOf(trx: TenantTransaction, tenantId: string, userId: string) {
    const target = await repo.findMembership(trx, tenantId, userId);
    if (!target) throw tenancyErrors.not_found('No such member');
    return target;
  }

  /** The org must keep an owner: refuses to take the role from the last one. The caller's scope holds the org lock. */
  async function assertNotLastOwner(trx: TenantTransaction, tenantId: string): Promise<void> {
    if ((await repo.countOwners(trx, tenantId)) <= 1) throw tenancyErrors.last_owner();
  }

  return {
    async create(principal: Principal, name: string, meta: RequestMeta): Promise<{ id: string; name: string }> {
      const tenantId = randomUUID();
      await withTenant(db, tenantId, async (trx) => {
        await repo.insertTenant(trx, tenantId, name);
        await repo.insertMembership(trx, tenantId, principal.id, 'owner');
        await audit(trx, { tenantId, actor: { type: 'user', id: principal.id } }, 'org.created', meta, { name });
      });
      return { id: tenantId, name };
    },

    view: (scope: OrgScope): Promise<OrgView> => scope(async (_trx, context) => viewOf(context.org)),

    async updateSettings(scope: OrgScope, changes: OrgSettings, meta: RequestMeta): Promise<OrgView> {
      return scope(async (trx, context) => {
        // The org row as locked by the scope: settings changes are decided one at a time.
        const before = context.org;
        const changed = SETTING_KEYS.filter((key) => changes[key] !== undefined && changes[key] !== before[key]);
        // Admins may tighten the MFA policy but not loosen it: loosening could exempt themselves.
        const loosening = changes.mfa_required_for !== undefined && loosensMfa(before.mfa_required_for, changes.mfa_required_for);
        if (loosening && !roleAllows(context.role, context.plan, 'owners:manage')) throw tenancyErrors.forbidden('Only owners may loosen the MFA policy');
        if (changed.length > 0) {
          const diff = Object.fromEntries(changed.map((key) => [key, changes[key]]));
          await repo.updateTenant(trx, context.tenantId, diff, clock.now());
          await audit(trx, { tenantId: context.tenantId, actor: context.actor }, 'org.settings_changed', meta, {
            before: Object.fromEntries(changed.map((key) => [key, before[key]])),
            after: diff,
          });
        }
        return viewOf((await repo.findTenant(trx, context.tenantId))!);
      }, { lock: true });
    },

    async listMembers(scope: OrgScope) {
      const memberships = await scope((trx, context) => repo.listMemberships(trx, context.tenantId));
      const users = new Map((await repo.describeUsers(db, memberships.map((m) => m.user_id))).map((user) => [user.id, user]));
      return memberships.map((membership) => {
        const user = users.get(membership.user_id);
        return {
          user_id: membership.user_id,
          email: user?.email ?? '',
          name: user?.name ?? null,
          role: membership.role,
          mfa_enabled: Boolean(user?.confirmed_at),
        };
      });
    },

    /**
     * Changes a member's role. Only owners grant or take away `owner`; admins manage the roles
     * below; the last owner cannot be demoted. Takes effect on the member's next request.
     */
    async changeRole(scope: OrgScope, userId: string, role: Role, meta: RequestMeta): Promise<{ user_id: string; role: Role }> {
      return scope(async (trx, context) => {
        const target = await targetOf(trx, context.tenantId, userId);
        if (target.role === role) return { user_id: userId, role };
        const touchesOwner = role === 'owner' || target.role === 'owner';
        if (touchesOwner && !roleAllows(context.role, context.plan, 'owners:manage')) throw tenancyErrors.forbidden('Only owners grant or remove the owner role');
        if (target.role === 'owner') await assertNotLastOwner(trx, context.tenantId);
        await repo.updateRole(trx, context.tenantId, userId, role, clock.now());
        await audit(trx, { tenantId: context.tenantId, actor: context.actor }, 'member.role_changed', meta, {
          user_id: userId,
          before: target.role,
          after: role,
        });
        return { user_id: userId, role };
      }, { lock: true });
    },

    /** Removes a member, or lets a member leave. Nobody removes someone above them; the last owner stays. */
    async removeMember(scope: OrgScope, userId: string, meta: RequestMeta): Promise<void> {
      await scope(async (trx, context) => {
        const target = await targetOf(trx, context.tenantId, userId);
        const leaving = userId === context.actor.id;
        if (!leaving) {
          if (!roleAllows(context.role, context.plan, 'members:remove')) throw tenancyErrors.forbidden();
          if (rank(target.role) > rank(context.role)) throw tenancyErrors.forbidden('You cannot remove a member whose role is above yours');
        }
        if (target.role === 'owner') await assertNotLastOwner(trx, context.tenantId);
        await repo.deleteMembership(trx, context.tenantId, userId);
        await audit(trx, { tenantId: context.tenantId, actor: context.actor }, 'member.removed', meta, { user_id: userId, role: target.role, left: leaving });
      }, { lock: true });
    },

    /** Orgs where `userId` is the only owner: their account must not go before someone else takes over. */
    async soleOwnerOrgs(userId: string): Promise<Array<{ id: string; name: string }>> {
      const owned = (await withUser(db, userId, (trx) => repo.listOrgsOfUser(trx, userId))).filter((org) => org.role === 'owner');
      const sole: Array<{ id: string; name: string }> = [];
      for (const org of owned) {
        const owners = await withTenant(db, org.tenant_id, (trx) => repo.countOwners(trx, org.tenant_id));
        if (owners <= 1) sole.push({ id: org.tenant_id, name: org.name });
      }
      return sole;
    },

    async orgsOf(userId: string) {
      return (await withUser(db, userId, (trx) => repo.listOrgsOfUser(trx, userId))).map((row) => ({ id: row.tenant_id, name: row.name, role: row.role }));
    },
  };
}

export type Orgs = ReturnType<typeof createOrgs>;
