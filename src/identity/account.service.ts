import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { eraseUserFromAudit, recordAuditEvent } from '../audit/index.js';
import { listTenantsWithKeys } from '../vault/keys.repository.js';
import type { SecurityAction } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import type { DB } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Principal } from './authenticate.js';
import { identityErrors } from './identity.errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Mfa } from './mfa.service.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import { findPasswordWeakness } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import { bumpTokenVersion, findPrincipalById, updatePasswordHash } from './principals.repository.js';
import type { PrincipalRow } from './principals.repository.js';
import type { RequestMeta, Sessions } from './sessions.service.js';

/** Lists a user's orgs with their role; tenancy provides it (identity does not depend on tenancy). */
export type OrgsOfUser = (userId: string) => Promise<Array<{ id: string; name: string; role: string }>>;

/** Orgs the user alone owns; tenancy provides it. */
export type SoleOwnerOrgs = (userId: string) => Promise<Array<{ id: string; name: string }>>;

export interface AccountDependencies {
  db: Kysely<DB>;
  clock: Clock;
  passwords: PasswordHasher;
  /** Wrong step-up passwords count toward the same per-account delay as wrong sign-ins. */
  throttle: LoginThrottle;
  sessions: Sessions;
  mfa: Mfa;
  tokens: OneTimeTokens;
  jobs: JobQueue;
  orgsOf: OrgsOfUser;
  soleOwnerOrgs: SoleOwnerOrgs;
  deletionGraceDays: number;
}

const DAY_MS = 86_400_000;
/** A sign-in this recent counts as step-up by itself (ASVS: re-authentication for sensitive actions). */
const STEP_UP_WINDOW_MS = 10 * 60_000;
export const ACCOUNT_PURGE_JOB = 'identity.account_purge';

/** What a signed-in user does with their own account: profile, password, MFA, sessions, export, deletion. */
export function createAccount(deps: AccountDependencies) {
  const { db, clock } = deps;

  function audit(executor: Kysely<DB>, principal: Principal, action: SecurityAction, meta: RequestMeta, metadata?: Record<string, unknown>) {
    return recordAuditEvent(executor, { realm: principal.realm, principalId: principal.id, action, ip: meta.ip, userAgent: meta.userAgent, requestId: meta.requestId ?? null, metadata, at: clock.now() });
  }

  /**
   * Checks the signed-in principal's current password. A stolen access token must not turn into an
   * unlimited password oracle: failures are throttled per account and recorded like failed sign-ins.
   */
  async function confirmPassword(principal: Principal, password: string, meta?: RequestMeta): Promise<PrincipalRow> {
    const key = deps.throttle.keyFor(principal.realm, principal.email);
    await deps.throttle.assertAllowed(key);
    const row = await findPrincipalById(db, principal.realm, principal.id);
    if (!row?.password_hash || !(await deps.passwords.verify(row.password_hash, password)).valid) {
      await deps.throttle.recordFailure(key);
      await recordAuditEvent(db, {
        realm: principal.realm,
        principalId: principal.id,
        action: 'auth.login.failed',
        ip: meta?.ip ?? null,
        userAgent: meta?.userAgent ?? null,
        requestId: meta?.requestId ?? null,
        metadata: { reason: 'step_up_wrong_password' },
        at: clock.now(),
      });
      throw identityErrors.step_up_required('The password is not correct');
    }
    await deps.throttle.recordSuccess(key);
    await deps.sessions.markAuthenticated(principal.sessionId);
    return row;
  }

  /** Step-up for sensitive actions: the current password, or a sign-in within the last 10 minutes. */
  async function stepUp(principal: Principal, password: string | undefined, meta: RequestMeta): Promise<void> {
    if (password !== undefined) {
      await confirmPassword(principal, password, meta);
      return;
    }
    if (clock.now().getTime() - principal.authenticatedAt.getTime() > STEP_UP_WINDOW_MS) {
      throw identityErrors.step_up_required('Confirm your password, or sign in again, to continue');
    }
  }

  deps.jobs.register(ACCOUNT_PURGE_JOB, async (job) => {
    const { userId } = job.payload as { userId: string };
    const chains = await listTenantsWithKeys(db);
    await db.transaction().execute(async (trx) => {
      // Only an account still deleted and past its grace period is purged: idempotent, and safe
      // if the job outlives a restored account.
      const user = await trx.selectFrom('users').select(['status', 'purge_after']).where('id', '=', userId).forUpdate().executeTakeFirst();
      if (!user || user.status !== 'deleted' || !user.purge_after || user.purge_after > clock.now()) return;
      await trx.deleteFrom('sessions').where('realm', '=', 'user').where('principal_id', '=', userId).execute();
      await trx.deleteFrom('totp_factors').where('realm', '=', 'user').where('principal_id', '=', userId).execute();
      await trx.deleteFrom('recovery_codes').where('realm', '=', 'user').where('principal_id', '=', userId).execute();
      await trx.deleteFrom('one_time_tokens').where('realm', '=', 'user').where('principal_id', '=', userId).execute();
      // The person's own history goes; what they did in an org stays in that org's record,
      // anonymised (the audit issue moves org events into per-tenant chains).
      await trx
        .updateTable('security_events')
        .set({ principal_id: null, ip: null, user_agent: null })
        .where('realm', '=', 'user')
        .where('principal_id', '=', userId)
        .where(sql<boolean>`metadata ? 'tenant_id'`)
        .execute();
      await trx.deleteFrom('security_events').where('realm', '=', 'user').where('principal_id', '=', userId).execute();
      // Their IPs and user agents in every audit chain become unreadable; the chains still verify.
      await eraseUserFromAudit(trx, userId, chains);
      await trx.deleteFrom('users').where('id', '=', userId).execute();
    });
  });

  async function accountData(userId: string) {
    const [profile, sessions, events, identities] = await Promise.all([
      db.selectFrom('users').select(['id', 'email', 'name', 'email_verified_at', 'created_at', 'updated_at']).where('id', '=', userId).executeTakeFirstOrThrow(),
      db.selectFrom('sessions').select(['id', 'created_at', 'last_used_at', 'ip', 'user_agent', 'revoked_at', 'amr']).where('realm', '=', 'user').where('principal_id', '=', userId).execute(),
      db.selectFrom('security_events').select(['action', 'ip', 'user_agent', 'metadata', 'at']).where('realm', '=', 'user').where('principal_id', '=', userId).orderBy('at').orderBy('id').execute(),
      db.selectFrom('external_identities').select(['provider', 'subject', 'created_at']).where('user_id', '=', userId).execute(),
    ]);
    return {
      exported_at: clock.now().toISOString(),
      user: profile,
      mfa_enabled: await deps.mfa.isEnabled('user', userId),
      sessions,
      security_events: events,
      external_identities: identities,
    };
  }

  /**
   * What one org holds about a member, for that org's access requests: the profile and the events
   * recorded in that org, never their sessions, other orgs' events or linked identities.
   */
  async function memberData(userId: string, tenantId: string) {
    const [profile, events] = await Promise.all([
      db.selectFrom('users').select(['id', 'email', 'name', 'created_at']).where('id', '=', userId).executeTakeFirstOrThrow(),
      db
        .selectFrom('security_events')
        .select(['action', 'ip', 'user_agent', 'metadata', 'at'])
        .where('realm', '=', 'user')
        .where('principal_id', '=', userId)
        .where(sql<boolean>`metadata->>'tenant_id' = ${tenantId}`)
        .orderBy('at')
        .orderBy('id')
        .execute(),
    ]);
    return { user: profile, mfa_enabled: await deps.mfa.isEnabled('user', userId), security_events: events };
  }

  return {
    stepUp,
    memberData,

    async staffProfile(principal: Principal) {
      return db.selectFrom('platform_staff').select(['id', 'email', 'name']).where('id', '=', principal.id).executeTakeFirstOrThrow();
    },

    async profile(principal: Principal) {
      const user = await db
        .selectFrom('users')
        .select(['id', 'email', 'name', 'email_verified_at'])
        .where('id', '=', principal.id)
        .executeTakeFirstOrThrow();
      return {
        id: user.id,
        email: user.email,
        name: user.name,
        email_verified: user.email_verified_at !== null,
        mfa_enabled: await deps.mfa.isEnabled('user', principal.id),
        orgs: await deps.orgsOf(principal.id),
      };
    },

    async rename(principal: Principal, name: string) {
      await db.updateTable('users').set({ name: name.trim() || null, updated_at: clock.now() }).where('id', '=', principal.id).execute();
      return this.profile(principal);
    },

    /** Changes the password; every other session ends and older access tokens stop working. */
    async changePassword(principal: Principal, input: { current_password: string; new_password: string }, meta: RequestMeta) {
      const row = await confirmPassword(principal, input.current_password, meta);
      // The name too, as at sign-up: "ada lovelace 1815" is as guessable after a change as before.
      const weakness = findPasswordWeakness(input.new_password, row.name ? [row.email, row.name] : [row.email]);
      if (weakness) throw identityErrors.weak_password(weakness);
      const hash = await deps.passwords.hash(input.new_password);
      await db.transaction().execute(async (trx) => {
        await updatePasswordHash(trx, principal.realm, principal.id, hash, clock.now());
        await bumpTokenVersion(trx, principal.realm, principal.id);
        await deps.sessions.revoke(trx, { realm: principal.realm, principalId: principal.id, except: principal.sessionId }, 'password_changed');
        // Whatever the old password opened stays shut: pending reset links and half-done sign-ins.
        for (const purpose of ['reset_password', 'mfa_challenge'] as const) {
          await deps.tokens.spendAll(trx, purpose, principal.realm, principal.id, clock.now());
        }
        await audit(trx, principal, 'password.changed', meta);
      });
    },

    /** A stolen token must not enrol the thief's authenticator: enrolment needs a recent sign-in. */
    async beginTotp(principal: Principal, meta: RequestMeta) {
      await stepUp(principal, undefined, meta);
      return deps.mfa.beginEnrolment(principal.realm, principal.id, principal.email);
    },

    async confirmTotp(principal: Principal, code: string, meta: RequestMeta): Promise<string[]> {
      return db.transaction().execute(async (trx) => {
        const codes = await deps.mfa.confirmEnrolment(trx, principal.realm, principal.id, code);
        await audit(trx, principal, 'mfa.enrolled', meta);
        return codes;
      });
    },

    async disableTotp(principal: Principal, password: string | undefined, meta: RequestMeta): Promise<void> {
      await stepUp(principal, password, meta);
      if (!(await deps.mfa.isEnabled(principal.realm, principal.id))) throw identityErrors.mfa_not_enrolled();
      await db.transaction().execute(async (trx) => {
        await deps.mfa.disable(trx, principal.realm, principal.id);
        await audit(trx, principal, 'mfa.disabled', meta);
      });
    },

    async listSessions(principal: Principal) {
      const rows = await deps.sessions.list(principal.realm, principal.id);
      return rows.map((row) => ({
        id: row.id,
        created_at: row.created_at.toISOString(),
        last_used_at: row.last_used_at.toISOString(),
        ip: row.ip,
        user_agent: row.user_agent,
        current: row.id === principal.sessionId,
      }));
    },

    /** Revokes one session, or with `others` every session but the current one. Unknown ids are 404. */
    async revokeSessions(principal: Principal, target: { sessionId: string } | { others: true }, meta: RequestMeta): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const filter = 'sessionId' in target ? { sessionId: target.sessionId } : { except: principal.sessionId };
        const revoked = await deps.sessions.revoke(trx, { realm: principal.realm, principalId: principal.id, ...filter }, 'revoked_by_user');
        if ('sessionId' in target && revoked.length === 0) throw identityErrors.not_found('No such session');
        await audit(trx, principal, 'session.revoked', meta, { sessions: revoked.length });
      });
    },

    async logout(principal: Principal, meta: RequestMeta): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await deps.sessions.revoke(trx, { realm: principal.realm, principalId: principal.id, sessionId: principal.sessionId }, 'logout');
        await audit(trx, principal, 'auth.logout', meta);
      });
    },

    async securityEvents(principal: Principal, limit: number) {
      const rows = await db
        .selectFrom('security_events')
        .select(['id', 'action', 'ip', 'user_agent', 'metadata', 'at'])
        .where('realm', '=', principal.realm)
        .where('principal_id', '=', principal.id)
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((row) => ({ id: String(row.id), action: row.action, ip: row.ip, user_agent: row.user_agent, metadata: row.metadata as Record<string, unknown>, at: row.at.toISOString() }));
    },

    /**
     * Every piece of personal data held about a user (GDPR Art. 15 and 20): what /v1/me/export
     * returns, and the account part of a data-subject export when the subject is a member.
     */

    /** The caller's own data, and the export audited. */
    async exportData(principal: Principal, meta: RequestMeta) {
      const data = await accountData(principal.id);
      await audit(db, principal, 'account.exported', meta);
      return data;
    },

    /** Closes the account now (every session revoked, sign-in refused) and purges it after the grace period. */
    async deleteAccount(principal: Principal, password: string | undefined, meta: RequestMeta): Promise<{ purge_after: string }> {
      await stepUp(principal, password, meta);
      const sole = await deps.soleOwnerOrgs(principal.id);
      if (sole.length > 0) {
        throw identityErrors.last_owner(`You are the only owner of ${sole.map((org) => org.name).join(', ')}; make someone else owner first`);
      }
      const now = clock.now();
      const purgeAfter = new Date(now.getTime() + deps.deletionGraceDays * DAY_MS);
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set({ status: 'deleted', deleted_at: now, purge_after: purgeAfter, updated_at: now }).where('id', '=', principal.id).execute();
        await deps.sessions.revoke(trx, { realm: 'user', principalId: principal.id }, 'account_deleted');
        await audit(trx, principal, 'account.deletion_requested', meta, { purge_after: purgeAfter.toISOString() });
        await deps.jobs.enqueue(trx, ACCOUNT_PURGE_JOB, { userId: principal.id }, { runAt: purgeAfter, idempotencyKey: `account-purge:${principal.id}` });
      });
      return { purge_after: purgeAfter.toISOString() };
    },
  };
}

export type Account = ReturnType<typeof createAccount>;
