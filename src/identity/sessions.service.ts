import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { recordAuditEvent } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import type { DB, Realm } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { AccessTokens } from './access-tokens.js';
import { identityErrors } from './identity.errors.js';
import { findPrincipalById } from './principals.repository.js';
import { generateSecretToken, hashSecretToken } from './secret-tokens.js';
import * as repo from './sessions.repository.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export type { RequestMeta } from '../platform/http/index.js';

export interface SessionsDependencies {
  db: Kysely<DB>;
  clock: Clock;
  accessTokens: AccessTokens;
  tokenHashKey: Buffer;
  accessTokenTtlSeconds: number;
  idleDays: number;
  absoluteDays: number;
}

const DAY_MS = 86_400_000;
const PURGE_MARGIN_DAYS = 30;
const MAX_USER_AGENT = 512;

/**
 * Sessions and their tokens. A session is a row; its refresh token rotates on every use and each
 * one ever issued is remembered, so a spent token presented again reveals theft and revokes the
 * whole session (OAuth 2.0 Security BCP). Access tokens carry the session id, and every request
 * checks that session, so a revocation takes effect on the next request on every node.
 */
export function createSessions(deps: SessionsDependencies) {
  const { db, clock } = deps;

  async function issueAccess(realm: Realm, principalId: string, sessionId: string, amr: string[], executor: Kysely<DB> = db) {
    const principal = await findPrincipalById(executor, realm, principalId);
    if (!principal?.active) throw identityErrors.unauthenticated();
    return deps.accessTokens.issue(realm, { sub: principalId, sid: sessionId, amr, tv: principal.token_version });
  }

  function pair(accessToken: string, refreshToken: string): TokenPair {
    return { access_token: accessToken, refresh_token: refreshToken, token_type: 'Bearer', expires_in: deps.accessTokenTtlSeconds };
  }

  return {
    /** Opens a session inside the caller's transaction (with its audit event) and returns its tokens. */
    async open(trx: Transaction<DB>, realm: Realm, principalId: string, amr: string[], meta: RequestMeta): Promise<TokenPair> {
      const now = clock.now();
      const sessionId = randomUUID();
      const refreshToken = generateSecretToken();
      await repo.insertSession(trx, {
        id: sessionId,
        realm,
        principalId,
        amr,
        ip: meta.ip,
        userAgent: meta.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
        now,
        expiresAt: new Date(now.getTime() + deps.absoluteDays * DAY_MS),
      });
      await repo.insertRefreshToken(trx, hashSecretToken(deps.tokenHashKey, refreshToken), sessionId, now);
      return pair(await issueAccess(realm, principalId, sessionId, amr, trx), refreshToken);
    },

    /** Spends a refresh token of `realm` for a new pair. A spent token revokes its session. */
    async refresh(realm: Realm, refreshToken: string, meta: RequestMeta): Promise<TokenPair> {
      const now = clock.now();
      const hash = hashSecretToken(deps.tokenHashKey, refreshToken);
      const outcome = await db.transaction().execute(async (trx) => {
        const row = await repo.lockRefreshToken(trx, hash);
        // Realms stay apart at refresh too: a staff token refreshed at the user endpoint is unknown there.
        if (!row || row.realm !== realm) return { kind: 'unknown' as const };
        if (row.spent_at) {
          if (!row.revoked_at) {
            await repo.revokeSessions(trx, { realm: row.realm, principalId: row.principal_id, sessionId: row.session_id }, 'refresh_token_reused', now);
            await recordAuditEvent(trx, {
              realm: row.realm,
              principalId: row.principal_id,
              action: 'auth.refresh_token_reused',
              ip: meta.ip,
              userAgent: meta.userAgent,
              requestId: meta.requestId ?? null,
              metadata: { session_id: row.session_id },
              at: now,
            });
          }
          return { kind: 'reused' as const };
        }
        const idleLimit = new Date(row.last_used_at.getTime() + deps.idleDays * DAY_MS);
        if (row.revoked_at || row.expires_at <= now || idleLimit <= now) return { kind: 'ended' as const };
        const next = generateSecretToken();
        await repo.spendRefreshToken(trx, hash, now);
        await repo.insertRefreshToken(trx, hashSecretToken(deps.tokenHashKey, next), row.session_id, now);
        await repo.touchSession(trx, row.session_id, now);
        return { kind: 'rotated' as const, next, row };
      });
      // The revocation above must commit before the caller hears about it, hence no throw inside.
      if (outcome.kind === 'reused') throw identityErrors.refresh_token_reused();
      if (outcome.kind !== 'rotated') throw identityErrors.unauthenticated('The session has ended; sign in again');
      const { row, next } = outcome;
      return pair(await issueAccess(row.realm, row.principal_id, row.session_id, row.amr), next);
    },

    /**
     * Checks, on every authenticated request, that the token's session is alive and the token is
     * not older than the principal's last credential change.
     */
    async assertActive(realm: Realm, sessionId: string, principalId: string, tokenVersion: number) {
      const [session, principal] = await Promise.all([repo.findSessionState(db, sessionId), findPrincipalById(db, realm, principalId)]);
      if (!session || session.realm !== realm || session.principal_id !== principalId) throw identityErrors.unauthenticated();
      if (session.revoked_at || session.expires_at <= clock.now()) throw identityErrors.unauthenticated('The session has ended; sign in again');
      if (!principal?.active) throw identityErrors.unauthenticated();
      if (principal.token_version !== tokenVersion) throw identityErrors.token_expired('The access token predates a credential change; refresh it');
      return { session, principal };
    },

    list: (realm: Realm, principalId: string) => {
      const now = clock.now();
      return repo.listActiveSessions(db, realm, principalId, now, new Date(now.getTime() - deps.idleDays * DAY_MS));
    },

    /**
     * The daily clean-up: ended sessions (with their refresh tokens) and expired one-time tokens
     * are deleted after a 30-day margin, kept that long so reuse of a spent token is still
     * recognised for a while. Idempotent: a second run finds nothing.
     */
    async purgeEnded(): Promise<{ sessions: number; tokens: number }> {
      const now = clock.now().getTime();
      return repo.purgeEndedSessions(db, new Date(now - PURGE_MARGIN_DAYS * DAY_MS), new Date(now - (deps.idleDays + PURGE_MARGIN_DAYS) * DAY_MS));
    },

    revoke: (executor: Kysely<DB>, filter: Parameters<typeof repo.revokeSessions>[1], reason: string) =>
      repo.revokeSessions(executor, filter, reason, clock.now()),

    markAuthenticated: (sessionId: string) => repo.markAuthenticated(db, sessionId, clock.now()),
  };
}

export type Sessions = ReturnType<typeof createSessions>;
