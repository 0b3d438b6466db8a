import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { IdentityConfig } from '../config.js';
import type { Clock } from '../platform/clock.js';
import type { DB, Realm } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Mailer } from '../platform/mail/index.js';
import { normalizeEmail } from './email.js';
import { identityErrors } from './identity.errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Mfa } from './mfa.service.js';
import { issueMfaChallenge } from './mfa-challenge.js';
import type { ChallengeData } from './mfa-challenge.js';
import { deleteIdentitiesOfUnverifiedAccount } from './oidc.repository.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import { findPasswordWeakness } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import { bumpTokenVersion, findPrincipalByEmail, findPrincipalById, updatePasswordHash } from './principals.repository.js';
import type { RequestMeta, Sessions, TokenPair } from './sessions.service.js';

export interface AuthDependencies {
  db: Kysely<DB>;
  clock: Clock;
  config: IdentityConfig;
  publicUrl: string;
  passwords: PasswordHasher;
  throttle: LoginThrottle;
  sessions: Sessions;
  mfa: Mfa;
  tokens: OneTimeTokens;
  mailer: Mailer;
  jobs: JobQueue;
  isInvited: InvitationCheck;
}

/**
 * Whether `token` is a pending invitation for `email` (normalized). The tenancy module answers it,
 * passed in by the composition root, so identity knows nothing of organizations.
 */
export type InvitationCheck = (token: string, email: string) => Promise<boolean>;

export interface UserView {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean;
}

export type LoginResult =
  | TokenPair
  /** With `mfa_enrolment_required`: platform staff without TOTP yet; the token only allows enrolling it. */
  | { mfa_required: true; mfa_token: string; mfa_enrolment_required?: true };

// Kept exported from here: platform-auth.service reads challenges through this name.
export type { ChallengeData } from './mfa-challenge.js';

const HOUR_MS = 3_600_000;
const MAX_MFA_ATTEMPTS = 5;
export const PASSWORD_RESET_REQUEST_JOB = 'identity.password_reset_request';

/**
 * Sign-up, sign-in (one or two steps), email verification and password reset. Every answer that
 * could tell whether an account exists is the same either way: status, body and (by hashing a
 * dummy) time.
 */
export function createAuth(deps: AuthDependencies) {
  const { db, clock } = deps;

  function audit(executor: Kysely<DB>, realm: Realm, principalId: string | null, action: SecurityAction, meta: RequestMeta, metadata?: Record<string, unknown>) {
    return recordAuditEvent(executor, { realm, principalId, action, ip: meta.ip, userAgent: meta.userAgent, requestId: meta.requestId ?? null, metadata, at: clock.now() });
  }


  function requireEmail(input: string): string {
    const email = normalizeEmail(input);
    if (!email) throw identityErrors.invalid_email();
    return email;
  }

  function assertStrong(password: string, personal: Array<string | null>): void {
    const weakness = findPasswordWeakness(password, personal.filter((value): value is string => Boolean(value)));
    if (weakness) throw identityErrors.weak_password(weakness);
  }

  async function mailLink(executor: Kysely<DB>, to: string, subject: string, intro: string, path: string, token: string) {
    const link = `${deps.publicUrl}${path}?token=${encodeURIComponent(token)}`;
    await deps.mailer.sendMail(executor, { to, subject, text: `${intro}\n\n${link}\n\nIf this was not you, ignore this message.` });
  }

  deps.jobs.register(PASSWORD_RESET_REQUEST_JOB, async (job) => {
    const { email, meta } = job.payload as { email: string; meta: RequestMeta };
    const user = await findPrincipalByEmail(db, 'user', email);
    if (!user?.active) return;
    await db.transaction().execute(async (trx) => {
      await audit(trx, 'user', user.id, 'password.reset_requested', meta);
      const token = await deps.tokens.issue(trx, {
        purpose: 'reset_password',
        realm: 'user',
        principalId: user.id,
        expiresAt: new Date(clock.now().getTime() + HOUR_MS),
      });
      await mailLink(trx, user.email, 'Reset your password', 'Someone asked to reset the password of your account. The link works once, for one hour:', '/reset-password', token);
    });
  });

  return {
    /**
     * With an invitation token the account starts with its email verified: the link was mailed to
     * that address. In invite-only mode such a token is the only way to create an account.
     */
    async signup(input: { email: string; password: string; name?: string | undefined; invitation_token?: string | undefined }, meta: RequestMeta): Promise<UserView> {
      const invitationToken = input.invitation_token;
      if (deps.config.signup === 'invite_only' && invitationToken === undefined) throw identityErrors.signup_disabled();
      const email = requireEmail(input.email);
      const name = input.name?.trim() || null;
      assertStrong(input.password, [email, name]);
      const invited = invitationToken !== undefined;
      if (invited && !(await deps.isInvited(invitationToken, email))) throw identityErrors.invalid_token('The invitation is not valid for this email address, or has expired');
      if (await findPrincipalByEmail(db, 'user', email)) throw identityErrors.email_taken();
      const hash = await deps.passwords.hash(input.password);
      const id = randomUUID();
      await db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('users')
          .values({ id, email, name, password_hash: hash, email_verified_at: invited ? clock.now() : null })
          .onConflict((oc) => oc.column('email').doNothing())
          .executeTakeFirst();
        if (inserted.numInsertedOrUpdatedRows !== 1n) throw identityErrors.email_taken();
        if (!invited) {
          const token = await deps.tokens.issue(trx, {
            purpose: 'verify_email',
            realm: 'user',
            principalId: id,
            expiresAt: new Date(clock.now().getTime() + 24 * HOUR_MS),
          });
          await mailLink(trx, email, 'Confirm your email address', 'Confirm your email address for your new account:', '/verify-email', token);
        }
        await audit(trx, 'user', id, 'auth.signup', meta, invited ? { via: 'invitation' } : undefined);
      });
      return { id, email, name, email_verified: invited };
    },

    async login(realm: Realm, input: { email: string; password: string }, meta: RequestMeta): Promise<LoginResult> {
      const email = normalizeEmail(input.email);
      const key = deps.throttle.keyFor(realm, email ?? input.email);
      const principal = email ? await findPrincipalByEmail(db, realm, email) : undefined;
      try {
        await deps.throttle.assertAllowed(key);
      } catch (error) {
        // A refused attempt is a failure too: the owner sees it among their security events.
        await audit(db, realm, principal?.active ? principal.id : null, 'auth.login.failed', meta, { reason: 'throttled' });
        throw error;
      }
      if (!principal?.active || !principal.password_hash) {
        await deps.passwords.verifyDummy(input.password);
        await deps.throttle.recordFailure(key);
        await audit(db, realm, null, 'auth.login.failed', meta, { reason: 'unknown_account' });
        throw identityErrors.invalid_credentials();
      }
      const check = await deps.passwords.verify(principal.password_hash, input.password);
      if (!check.valid) {
        await deps.throttle.recordFailure(key);
        await audit(db, realm, principal.id, 'auth.login.failed', meta, { reason: 'wrong_password' });
        throw identityErrors.invalid_credentials();
      }
      if (check.needsRehash) await updatePasswordHash(db, realm, principal.id, await deps.passwords.hash(input.password), clock.now());
      const mfaEnabled = await deps.mfa.isEnabled(realm, principal.id);
      if (mfaEnabled || realm === 'platform') {
        // The failure count is kept until the second step succeeds: were it cleared here, someone
        // holding the password could restart the sign-in for fresh guesses at the code forever.
        const mfaToken = await issueMfaChallenge(deps.tokens, db, { realm, principalId: principal.id, now: clock.now(), amr: ['pwd'], enrol: !mfaEnabled });
        return { mfa_required: true, mfa_token: mfaToken, ...(mfaEnabled ? {} : { mfa_enrolment_required: true as const }) };
      }
      await deps.throttle.recordSuccess(key);
      return db.transaction().execute(async (trx) => {
        await audit(trx, realm, principal.id, 'auth.login.succeeded', meta, { amr: ['pwd'] });
        return deps.sessions.open(trx, realm, principal.id, ['pwd'], meta);
      });
    },

    /**
     * Second step: the challenge is single-use, expires in 5 minutes and allows 5 wrong codes.
     * Wrong codes count toward the account's sign-in delay, like wrong passwords.
     */
    async loginMfa(realm: Realm, input: { mfa_token: string; code: string }, meta: RequestMeta): Promise<TokenPair> {
      const now = clock.now();
      const outcome = await db.transaction().execute(async (trx) => {
        const challenge = await deps.tokens.lock(trx, 'mfa_challenge', input.mfa_token, now);
        const principal = challenge?.principal_id ? await findPrincipalById(trx, realm, challenge.principal_id) : undefined;
        if (!challenge || challenge.realm !== realm || !principal?.active) return { ok: false as const, reason: 'invalid_challenge' as const };
        const key = deps.throttle.keyFor(realm, principal.email);
        try {
          await deps.throttle.assertAllowed(key);
        } catch (error) {
          await audit(trx, realm, principal.id, 'auth.login.failed', meta, { reason: 'throttled' });
          return { ok: false as const, reason: 'throttled' as const, error };
        }
        const data = challenge.data as ChallengeData;
        const factor = await deps.mfa.verifySecondFactor(trx, realm, principal.id, input.code);
        if (!factor) {
          const attempts = data.attempts + 1;
          if (attempts >= MAX_MFA_ATTEMPTS) await deps.tokens.spend(trx, challenge.token_hash, now);
          else await deps.tokens.updateData(trx, challenge.token_hash, { ...data, attempts });
          await audit(trx, realm, principal.id, 'auth.login.failed', meta, { reason: 'wrong_second_factor' });
          return { ok: false as const, reason: 'wrong_code' as const, key };
        }
        await deps.tokens.spend(trx, challenge.token_hash, now);
        if (factor === 'recovery_code') await audit(trx, realm, principal.id, 'mfa.recovery_code_used', meta);
        // The first step's method, not always `pwd`: an external sign-in's challenge carries `ext`.
        const amr = [...data.amr, 'otp'];
        await audit(trx, realm, principal.id, 'auth.login.succeeded', meta, { amr, ...(data.provider ? { provider: data.provider } : {}) });
        return { ok: true as const, key, tokens: await deps.sessions.open(trx, realm, principal.id, amr, meta) };
      });
      // Outcomes are settled after the commit, so the audit events above survive the refusal.
      if (outcome.ok) {
        await deps.throttle.recordSuccess(outcome.key);
        return outcome.tokens;
      }
      if (outcome.reason === 'throttled') throw outcome.error;
      if (outcome.reason === 'wrong_code') {
        await deps.throttle.recordFailure(outcome.key);
        throw identityErrors.invalid_code();
      }
      throw identityErrors.invalid_token('The sign-in has expired; enter your password again');
    },

    /** Always the same answer; the lookup and the mail happen in a job, so timing tells nothing. */
    async forgotPassword(input: { email: string }, meta: RequestMeta): Promise<void> {
      const email = normalizeEmail(input.email);
      // The request's origin rides along so the owner's security history can show who asked.
      if (email) await deps.jobs.enqueue(db, PASSWORD_RESET_REQUEST_JOB, { email, meta });
    },

    /** Sets a new password from a mailed token; every session ends. It does not sign in, so MFA still applies. */
    async resetPassword(input: { token: string; password: string }, meta: RequestMeta): Promise<void> {
      const now = clock.now();
      const token = await db.transaction().execute((trx) => deps.tokens.lock(trx, 'reset_password', input.token, now));
      if (!token?.principal_id) throw identityErrors.invalid_token();
      const user = await db.selectFrom('users').select(['email', 'name']).where('id', '=', token.principal_id).executeTakeFirst();
      assertStrong(input.password, [user?.email ?? null, user?.name ?? null]);
      const hash = await deps.passwords.hash(input.password);
      const principalId = token.principal_id;
      await db.transaction().execute(async (trx) => {
        // Locked again: the hash above took time, and the token may have been spent meanwhile.
        const live = await deps.tokens.lock(trx, 'reset_password', input.token, now);
        if (!live) throw identityErrors.invalid_token();
        await deps.tokens.spendAll(trx, 'reset_password', 'user', principalId, now);
        await updatePasswordHash(trx, 'user', principalId, hash, now);
        await bumpTokenVersion(trx, 'user', principalId);
        await deps.sessions.revoke(trx, { realm: 'user', principalId }, 'password_reset');
        // Links made on unverified evidence before external sign-in required a verified email
        // (see oidc.service): the reset proves the mailbox, so such a link must not outlive it.
        const removed = await deleteIdentitiesOfUnverifiedAccount(trx, principalId);
        await audit(trx, 'user', principalId, 'password.reset', meta, removed > 0 ? { external_identities_removed: removed } : undefined);
      });
    },

    async verifyEmail(input: { token: string }, meta: RequestMeta): Promise<void> {
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        const token = await deps.tokens.lock(trx, 'verify_email', input.token, now);
        if (!token?.principal_id) throw identityErrors.invalid_token();
        await deps.tokens.spend(trx, token.token_hash, now);
        // Before the address counts as verified: a link made while it was not (older releases
        // linked on a provider's unverified email) would otherwise become indistinguishable.
        const removed = await deleteIdentitiesOfUnverifiedAccount(trx, token.principal_id);
        await trx.updateTable('users').set({ email_verified_at: now, updated_at: now }).where('id', '=', token.principal_id).execute();
        await audit(trx, 'user', token.principal_id, 'email.verified', meta, removed > 0 ? { external_identities_removed: removed } : undefined);
      });
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
