import type { Kysely, Transaction } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';

export interface NewSession {
  id: string;
  realm: Realm;
  principalId: string;
  amr: string[];
  ip: string | null;
  userAgent: string | null;
  now: Date;
  expiresAt: Date;
}

export async function insertSession(trx: Transaction<DB>, session: NewSession): Promise<void> {
  await trx
    .insertInto('sessions')
    .values({
      id: session.id,
      realm: session.realm,
      principal_id: session.principalId,
      amr: session.amr,
      ip: session.ip,
      user_agent: session.userAgent,
      created_at: session.now,
      last_used_at: session.now,
      authenticated_at: session.now,
      expires_at: session.expiresAt,
    })
    .execute();
}

export async function insertRefreshToken(trx: Transaction<DB>, tokenHash: Buffer, sessionId: string, now: Date): Promise<void> {
  await trx.insertInto('refresh_tokens').values({ token_hash: tokenHash, session_id: sessionId, issued_at: now }).execute();
}

/** Locks the refresh token and its session, so two refreshes with one token run one after the other. */
export async function lockRefreshToken(trx: Transaction<DB>, tokenHash: Buffer) {
  return trx
    .selectFrom('refresh_tokens as r')
    .innerJoin('sessions as s', 's.id', 'r.session_id')
    .select(['r.spent_at', 's.id as session_id', 's.realm', 's.principal_id', 's.amr', 's.revoked_at', 's.expires_at', 's.last_used_at'])
    .where('r.token_hash', '=', tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

export async function spendRefreshToken(trx: Transaction<DB>, tokenHash: Buffer, now: Date): Promise<void> {
  await trx.updateTable('refresh_tokens').set({ spent_at: now }).where('token_hash', '=', tokenHash).execute();
}

export async function touchSession(trx: Transaction<DB>, sessionId: string, now: Date): Promise<void> {
  await trx.updateTable('sessions').set({ last_used_at: now }).where('id', '=', sessionId).execute();
}

export async function markAuthenticated(db: Kysely<DB>, sessionId: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ authenticated_at: now }).where('id', '=', sessionId).execute();
}

/** Revokes sessions of a principal; `except` keeps one (the caller's own). Returns the revoked ids. */
export async function revokeSessions(
  db: Kysely<DB>,
  filter: { realm: Realm; principalId: string; sessionId?: string; except?: string },
  reason: string,
  now: Date,
): Promise<string[]> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('realm', '=', filter.realm)
    .where('principal_id', '=', filter.principalId)
    .where('revoked_at', 'is', null);
  if (filter.sessionId) query = query.where('id', '=', filter.sessionId);
  if (filter.except) query = query.where('id', '!=', filter.except);
  const rows = await query.returning('id').execute();
  return rows.map((row) => row.id);
}

/** What authentication must know about a session on every request. */
export async function findSessionState(db: Kysely<DB>, sessionId: string) {
  return db
    .selectFrom('sessions')
    .select(['id', 'realm', 'principal_id', 'revoked_at', 'expires_at', 'authenticated_at', 'amr'])
    .where('id', '=', sessionId)
    .executeTakeFirst();
}

/** Sessions that can still be refreshed: not revoked, not past their lifetime, not idle too long. */
export async function listActiveSessions(db: Kysely<DB>, realm: Realm, principalId: string, now: Date, idleSince: Date) {
  return db
    .selectFrom('sessions')
    .select(['id', 'created_at', 'last_used_at', 'ip', 'user_agent'])
    .where('realm', '=', realm)
    .where('principal_id', '=', principalId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('last_used_at', '>', idleSince)
    .orderBy('last_used_at', 'desc')
    .execute();
}

/**
 * Deletes what can never be used again and is kept no longer than `before`: sessions ended (revoked,
 * expired or idle) before it, with their refresh tokens, and one-time tokens expired before it.
 * Returns the counts for the run's log line.
 */
export async function purgeEndedSessions(db: Kysely<DB>, before: Date, idleBefore: Date): Promise<{ sessions: number; tokens: number }> {
  const sessions = await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('revoked_at', '<', before), eb('expires_at', '<', before), eb('last_used_at', '<', idleBefore)]))
    .executeTakeFirst();
  const tokens = await db.deleteFrom('one_time_tokens').where('expires_at', '<', before).executeTakeFirst();
  return { sessions: Number(sessions.numDeletedRows), tokens: Number(tokens.numDeletedRows) };
}
