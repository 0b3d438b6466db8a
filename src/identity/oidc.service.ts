import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import * as client from 'openid-client';
import { recordAuditEvent } from '../audit/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { IdentityConfig, OidcProviderConfig, RampartEnv } from '../config.js';
import type { Clock } from '../platform/clock.js';
import type { DB } from '../platform/db/index.js';
import { defineErrors, httpErrors } from '../platform/http/index.js';
import type { LoginResult } from './auth.service.js';
import { normalizeEmail } from './email.js';
import { identityErrors } from './identity.errors.js';
import { issueMfaChallenge } from './mfa-challenge.js';
import { findFactor } from './mfa.repository.js';
import type { Mfa } from './mfa.service.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import * as repo from './oidc.repository.js';
import { bumpTokenVersion } from './principals.repository.js';
import { secretsEqual } from './secret-tokens.js';
import type { RequestMeta, Sessions } from './sessions.service.js';

export const oidcErrors = defineErrors({
  provider_not_found: { status: 404, message: 'No sign-in provider by that name' },
  external_sign_in_failed: { status: 400, message: 'The sign-in provider did not complete the sign-in; start again' },
  external_email_missing: { status: 400, message: 'The sign-in provider did not share a valid email address' },
  // One answer whether or not an account holds the address, so it tells nobody which.
  external_email_unverified: {
    status: 409,
    message: 'The sign-in provider has not verified this email address; verify it there, or sign in with your password',
  },
});

export interface OidcDependencies {
  db: Kysely<DB>;
  clock: Clock;
  env: RampartEnv;
  publicUrl: string;
  config: IdentityConfig;
  sessions: Sessions;
  mfa: Mfa;
  tokens: OneTimeTokens;
  /** Queues, in the claim's transaction, the revocation of what the claimed account holds in orgs (tenancy's). */
  revokeOrgGrants: AccountClaimedHook;
}

/** What other modules do about a claimed account, inside the claim's transaction (which they must not leave). */
export type AccountClaimedHook = (trx: Transaction<DB>, userId: string, claimedAt: Date) => Promise<void>;

/** What a sign-in carries from /start to /callback, in the single-use `oidc_state` token's data. */
interface StateData {
  provider: string;
  nonce: string;
  code_verifier: string;
}

export interface CallbackInput {
  state: string;
  /** The state the browser that started the sign-in holds (cookie); binds the flow to that browser. */
  browserState: string | null;
  /** The callback's query string as received, for the library to read code, state, iss or error from. */
  search: string;
}

/** External accounts are a second way in; amr `ext` (RFC 8176 has no OIDC value) marks such sessions. */
const AMR = ['ext'];
const STATE_TTL_MS = 10 * 60_000;
const SCOPE = 'openid email profile';
const DISCOVERY_TIMEOUT_SECONDS = 10;

/**
 * OpenID Connect sign-in: authorization code with PKCE (S256), `state` and `nonce`, through
 * openid-client, which checks the ID token's signature, issuer, audience, nonce and expiry.
 * A provider's account signs in to the Rampart account it is linked to. Failing that, it goes
 * on only if the provider says the email is verified: it is then linked to the account with that
 * email, or a new account is created (not in invite-only mode). An unverified email never creates
 * or links anything, so no link can exist on an account whose address nobody proved.
 */
export function createOidc(deps: OidcDependencies) {
  const { db, clock } = deps;
  const providers = new Map(deps.config.oidcProviders.map((provider) => [provider.id, provider]));
  // Discovery happens on first use, not at start-up, so an unreachable provider cannot stop Rampart.
  const discovered = new Map<string, Promise<client.Configuration>>();

  function providerOf(id: string): OidcProviderConfig {
    const provider = providers.get(id);
    if (!provider) throw oidcErrors.provider_not_found();
    return provider;
  }

  function callbackUrl(provider: OidcProviderConfig): URL {
    return new URL(`${deps.publicUrl}/v1/auth/oidc/${provider.id}/callback`);
  }

  function configurationOf(provider: OidcProviderConfig): Promise<client.Configuration> {
    let pending = discovered.get(provider.id);
    if (!pending) {
      // Plain http only outside production (a provider on this machine in development and tests);
      // config.ts already refuses an http issuer in production.
      const insecure = new URL(provider.issuer).protocol === 'http:' && deps.env !== 'production';
      pending = client.discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
        execute: insecure ? [client.allowInsecureRequests] : [],
        timeout: DISCOVERY_TIMEOUT_SECONDS,
      });
      // A failed discovery is retried on the next sign-in rather than remembered.
      pending.catch(() => discovered.delete(provider.id));
      discovered.set(provider.id, pending);
    }
    return pending;
  }

  function audit(executor: Kysely<DB>, principalId: string | null, action: SecurityAction, meta: RequestMeta, metadata: Record<string, unknown>) {
    return recordAuditEvent(executor, { realm: 'user', principalId, action, ip: meta.ip, userAgent: meta.userAgent, requestId: meta.requestId ?? null, metadata, at: clock.now() });
  }

  /** Maps the library's failures: the provider being unreachable is ours to retry, anything else a failed sign-in. */
  function toSignInError(error: unknown, provider: OidcProviderConfig, log: FastifyBaseLogger): Error {
    const reason = describe(error);
    log.warn({ provider: provider.id, reason }, 'external sign-in failed');
    const unreachable =
      (error instanceof TypeError && error.message === 'fetch failed') ||
      (error instanceof client.ClientError && (error.code === 'OAUTH_TIMEOUT' || error.code === 'OAUTH_ABORT'));
    if (unreachable) return httpErrors.unavailable('The sign-in provider is unreachable; retry later', { headers: { 'retry-after': '5' } });
    if (error instanceof client.AuthorizationResponseError || error instanceof client.ResponseBodyError || error instanceof client.ClientError) {
      return oidcErrors.external_sign_in_failed();
    }
    return error instanceof Error ? error : new Error(reason);
  }

  /** Claims from the ID token, completed from the UserInfo endpoint when the token leaves the email out. */
  async function claimsOf(configuration: client.Configuration, tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers) {
    const idToken = tokens.claims();
    if (!idToken) throw oidcErrors.external_sign_in_failed();
    if (typeof idToken.email === 'string') return idToken;
    // fetchUserInfo refuses a response whose `sub` differs from the ID token's.
    const userInfo = await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
    return { ...userInfo, ...idToken, email: userInfo.email, email_verified: userInfo.email_verified };
  }

  /**
   * The provider proved the address of a local account nobody had verified: whoever registered it
   * may be a squatter, so everything they could have set up or still hold goes, in this transaction.
   */
  async function claimUnverifiedAccount(trx: Transaction<DB>, provider: OidcProviderConfig, account: repo.LinkCandidate, meta: RequestMeta): Promise<void> {
    const now = clock.now();
    await repo.claimUnverifiedAccount(trx, account.id, now);
    // A factor the squatter enrolled would otherwise be asked of the owner, and answered by the squatter.
    // Read through trx, not mfa.isEnabled: that uses the pool, which PGlite's one connection would deadlock.
    const mfaEnabled = Boolean((await findFactor(trx, 'user', account.id))?.confirmed_at);
    await deps.mfa.disable(trx, 'user', account.id);
    // Challenges already handed out (mfa_token), reset and verification links: all of any purpose.
    const tokensSpent = await repo.spendLiveTokensOf(trx, 'user', account.id, now);
    // Only links older than the rule that links need a verified email can be here; none is the owner's.
    const identitiesRemoved = await repo.deleteExternalIdentities(trx, account.id);
    await bumpTokenVersion(trx, 'user', account.id);
    await deps.sessions.revoke(trx, { realm: 'user', principalId: account.id }, 'claimed_by_verified_owner');
    // Org API keys and invitations act without a session: tenancy revokes them per org (a job).
    await deps.revokeOrgGrants(trx, account.id, now);
    await audit(trx, account.id, 'account.claimed', meta, {
      provider: provider.id,
      password_removed: account.has_password,
      mfa_disabled: mfaEnabled,
      one_time_tokens_spent: tokensSpent,
      external_identities_removed: identitiesRemoved,
      sessions_revoked: true,
    });
  }

  /** The account this external identity signs in to: linked, linked now by verified email, or new. */
  async function resolveAccount(
    trx: Transaction<DB>,
    provider: OidcProviderConfig,
    claims: { sub: string; email?: unknown; email_verified?: unknown; name?: unknown },
    meta: RequestMeta,
  ): Promise<{ ok: true; userId: string } | { ok: false; error: Error }> {
    // A link stays the way in whatever the provider says now: links are made only on a verified email
    // (any older one on a still-unverified account is removed by password reset or email verification).
    const linked = await repo.findLinkedUserId(trx, provider.id, claims.sub);
    if (linked) return { ok: true, userId: linked };
    const email = typeof claims.email === 'string' ? normalizeEmail(claims.email) : null;
    if (!email) return { ok: false, error: oidcErrors.external_email_missing() };
    // Only the boolean true: some providers send the string "false", which is truthy.
    const verified = claims.email_verified === true;
    const existing = await repo.findLinkCandidate(trx, email);
    if (!verified) {
      // Neither link nor create: an account made for an address the provider never checked would
      // carry the link into the hands of the address's real owner once they reset the password.
      // Refusing outright (rather than linking and unlinking at reset or verification) means no
      // such link is ever made; auth.service only removes ones older releases may have left.
      await audit(trx, existing?.id ?? null, 'auth.login.failed', meta, { reason: 'external_email_unverified', provider: provider.id });
      return { ok: false, error: oidcErrors.external_email_unverified() };
    }
    // After the check above, so an unverified email learns nothing of an account pending deletion either.
    if (existing && !existing.active) return { ok: false, error: identityErrors.unauthenticated() };
    if (existing) {
      if (!existing.email_verified) await claimUnverifiedAccount(trx, provider, existing, meta);
      await repo.linkExternalIdentity(trx, provider.id, claims.sub, existing.id);
      await audit(trx, existing.id, 'auth.external_identity.linked', meta, {
        provider: provider.id,
        password_removed: !existing.email_verified && existing.has_password,
      });
      return { ok: true, userId: existing.id };
    }
    if (deps.config.signup === 'invite_only') return { ok: false, error: identityErrors.signup_disabled() };
    const userId = randomUUID();
    const name = typeof claims.name === 'string' ? claims.name.trim().slice(0, 200) || null : null;
    if (!(await repo.insertExternalUser(trx, { id: userId, email, name, emailVerifiedAt: clock.now() }))) {
      return { ok: false, error: identityErrors.email_taken() };
    }
    await repo.linkExternalIdentity(trx, provider.id, claims.sub, userId);
    await audit(trx, userId, 'auth.signup', meta, { provider: provider.id });
    return { ok: true, userId };
  }

  return {
    /** Starts a sign-in: returns the provider's authorization URL and the state to bind to the browser. */
    async start(providerId: string, log: FastifyBaseLogger): Promise<{ url: string; state: string }> {
      const provider = providerOf(providerId);
      let configuration: client.Configuration;
      try {
        configuration = await configurationOf(provider);
      } catch (error) {
        throw toSignInError(error, provider, log);
      }
      const data: StateData = { provider: provider.id, nonce: client.randomNonce(), code_verifier: client.randomPKCECodeVerifier() };
      // The state is the one-time token itself: 256 random bits, stored only as a keyed hash.
      const state = await deps.tokens.issue(db, {
        purpose: 'oidc_state',
        realm: 'user',
        principalId: null,
        expiresAt: new Date(clock.now().getTime() + STATE_TTL_MS),
        data: { ...data },
      });
      const url = client.buildAuthorizationUrl(configuration, {
        redirect_uri: callbackUrl(provider).href,
        scope: SCOPE,
        state,
        nonce: data.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(data.code_verifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, state };
    },

    /** Completes a sign-in. With MFA on, the account's second factor is still asked for. */
    async callback(providerId: string, input: CallbackInput, meta: RequestMeta, log: FastifyBaseLogger): Promise<LoginResult> {
      const provider = providerOf(providerId);
      // Without the browser binding a link crafted by someone else would sign the victim in to the sender's account.
      // Compared in constant time: the cookie holds the same secret as the state.
      if (input.browserState === null || !secretsEqual(Buffer.from(input.browserState), Buffer.from(input.state))) throw identityErrors.invalid_token('The sign-in was not started in this browser; start again');
      const now = clock.now();
      // Spent before the code exchange, in its own transaction: a state works once even if what follows fails.
      const stored = await db.transaction().execute(async (trx) => {
        const token = await deps.tokens.lock(trx, 'oidc_state', input.state, now);
        if (!token) return undefined;
        await deps.tokens.spend(trx, token.token_hash, now);
        return token.data as Partial<StateData>;
      });
      if (!stored || stored.provider !== provider.id || !stored.nonce || !stored.code_verifier) {
        throw identityErrors.invalid_token('The sign-in has expired or was already completed; start again');
      }
      let claims: Awaited<ReturnType<typeof claimsOf>>;
      try {
        const configuration = await configurationOf(provider);
        const currentUrl = callbackUrl(provider);
        currentUrl.search = input.search;
        const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: stored.code_verifier,
          expectedState: input.state,
          expectedNonce: stored.nonce,
          idTokenExpected: true,
        });
        claims = await claimsOf(configuration, tokens);
      } catch (error) {
        throw toSignInError(error, provider, log);
      }
      // Failures that write an audit event must commit it, hence a result rather than a throw inside.
      const account = await db.transaction().execute((trx) => resolveAccount(trx, provider, claims, meta));
      if (!account.ok) throw account.error;
      const { userId } = account;
      if (await deps.mfa.isEnabled('user', userId)) {
        // Same challenge as a password sign-in: the account's own second factor is not skipped.
        const mfaToken = await issueMfaChallenge(deps.tokens, db, { realm: 'user', principalId: userId, now: clock.now(), amr: AMR, provider: provider.id });
        return { mfa_required: true, mfa_token: mfaToken };
      }
      return db.transaction().execute(async (trx) => {
        await audit(trx, userId, 'auth.login.succeeded', meta, { amr: AMR, provider: provider.id });
        return deps.sessions.open(trx, 'user', userId, AMR, meta);
      });
    },
  };
}

export type Oidc = ReturnType<typeof createOidc>;

function describe(error: unknown): string {
  if (error instanceof client.AuthorizationResponseError) return `authorization error: ${error.error}`;
  if (error instanceof client.ResponseBodyError) return `token endpoint error: ${error.error}`;
  if (error instanceof client.ClientError) return `${error.code ?? 'client error'}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
