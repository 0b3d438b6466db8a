import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { DB, Realm } from '../platform/db/index.js';
import { actionDefinition } from './actions.js';
import type { SecurityAction } from './actions.js';
import type { AuditActor, AuditTarget } from './canonical.js';
import { appendToChains, PLATFORM_CHAIN, withLocalSetting } from './chain.js';
import type { NewAuditEntry } from './chain.js';
import { sealPersonal } from './personal.js';
import type { AuditSubject } from './personal.js';

export type { SecurityAction } from './actions.js';
export type { AuditActor, AuditTarget } from './canonical.js';
export { PLATFORM_CHAIN } from './chain.js';
/** The org's entries, oldest first, in constant memory; and its signed checkpoints (whole-org export). */
export { exportEntries } from './export.js';
export { listCheckpoints } from './checkpoints.js';
export { auditSubjectIndex, eraseUserFromAudit, withAuditCipher } from './personal.js';
export type { AuditSubject } from './personal.js';
export { entriesAboutSubject } from './query.js';
export type { AuditEventView } from './query.js';
/** The audit log's routes (read, host events, export, verify, checkpoints, proofs) and its checkpoint job. */
export { createAuditLog } from './audit-log.js';

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
  /** Who acted; by default the principal (`platform` for staff). An org API key passes itself. */
  actor?: AuditActor;
  /** What the action is about; by default the one its catalogue entry names (src/audit/actions.ts). */
  target?: AuditTarget | null;
  requestId?: string | null;
  /**
   * The host application's data subject whose personal data the entry holds (its personal fields
   * go under that subject's key, and erasing the subject erases them); by default the principal.
   */
  subjectId?: string | null;
}

// Bounded like a session's: a header is the client's to make as long as it likes.
const MAX_USER_AGENT = 512;

function actorOf(event: SecurityEvent): AuditActor {
  return event.actor ?? { type: event.realm === 'platform' ? 'platform' : 'user', id: event.principalId };
}

function targetOf(event: SecurityEvent): AuditTarget | null {
  if (event.target !== undefined) return event.target;
  const from = actionDefinition(event.action)?.target;
  if (!from) return null;
  const id = from.from === 'principal' ? event.principalId : from.from === 'tenant' ? event.tenantId : event.metadata?.[from.from];
  return typeof id === 'string' ? { type: from.type, id } : null;
}

function subjectOf(event: SecurityEvent): AuditSubject {
  if (event.subjectId !== undefined) return event.subjectId === null ? null : { type: 'data_subject', id: event.subjectId };
  return event.principalId ? { type: 'user', id: event.principalId } : null;
}

/**
 * The entry of an event in one chain: personal fields (IP, user agent, personal metadata) apart
 * from the rest, encrypted for that chain under the subject's key.
 */
/** An event's metadata split into what its catalogue entry marks personal and the rest. */
function splitPersonal(event: SecurityEvent): { personal: Record<string, unknown>; rest: Record<string, unknown> } {
  const personalKeys = new Set(actionDefinition(event.action)?.personal ?? []);
  const metadata = Object.entries(event.metadata ?? {});
  return {
    personal: Object.fromEntries(metadata.filter(([key]) => personalKeys.has(key))),
    rest: Object.fromEntries(metadata.filter(([key]) => !personalKeys.has(key))),
  };
}

async function entryOf(trx: Transaction<DB>, tenantId: string, event: SecurityEvent): Promise<NewAuditEntry> {
  const { personal, rest } = splitPersonal(event);
  const id = randomUUID();
  const fields = { ...personal, ip: event.ip, user_agent: event.userAgent?.slice(0, MAX_USER_AGENT) };
  const [sealed] = await sealPersonal(trx, tenantId, [{ entryId: id, subject: subjectOf(event), fields }]);
  return { id, at: event.at, action: event.action, actor: actorOf(event), target: targetOf(event), requestId: event.requestId ?? null, metadata: rest, ...sealed! };
}

/**
 * The chains an event belongs to: its org's; for an event about a user outside any org (sign-in,
 * MFA, password, sessions), every org the user is a member of, so their admins see it; otherwise
 * (staff, unknown accounts, users in no org) the platform chain.
 */
async function chainsOf(trx: Transaction<DB>, event: SecurityEvent): Promise<string[]> {
  if (event.tenantId) return [event.tenantId];
  const userId = event.principalId;
  if (event.realm !== 'user' || !userId) return [PLATFORM_CHAIN];
  const orgs = await withLocalSetting(trx, 'rampart.user_id', userId, () =>
    trx.selectFrom('memberships').select('tenant_id').where('user_id', '=', userId).execute(),
  );
  return orgs.length > 0 ? orgs.map((org) => org.tenant_id) : [PLATFORM_CHAIN];
}

/**
 * The one seam through which modules record security events, inside the transaction of the action
 * they describe: the principal's own security history (/v1/me/security-events) and the
 * hash-chained audit log of each chain the event belongs to. Given the root handle instead of a
 * transaction, it opens one of its own.
 */
export async function recordAuditEvent(executor: Kysely<DB> | Transaction<DB>, event: SecurityEvent): Promise<void> {
  if (!executor.isTransaction) return executor.transaction().execute((trx) => recordAuditEvent(trx, event));
  const trx = executor as Transaction<DB>;
  // The principal's own history holds no one else's personal data: the action's personal fields
  // (a data subject's id, a reason that may name someone) live only in the chain, sealed.
  const kept = splitPersonal(event).rest;
  await trx
    .insertInto('security_events')
    .values({
      realm: event.realm,
      principal_id: event.principalId,
      action: event.action,
      ip: event.ip,
      user_agent: event.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      // The org rides in the metadata: an account purge keeps (anonymised) the events of its orgs.
      metadata: JSON.stringify(event.tenantId ? { ...kept, tenant_id: event.tenantId } : kept),
      at: event.at,
    })
    .execute();
  const appends = [];
  for (const tenantId of await chainsOf(trx, event)) appends.push({ tenantId, entries: [await entryOf(trx, tenantId, event)] });
  await appendToChains(trx, appends);
}
