import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log/logger.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import { defineErrors } from '../platform/http/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import { AUDIT_ACTIONS } from './actions.js';
import type { AuditActor, AuditTarget } from './canonical.js';
import { appendToChains } from './chain.js';
import type { NewAuditEntry } from './chain.js';
import { GroupCommitOverloaded, GroupCommitter } from './group-commit.js';
import { sealPersonal } from './personal.js';
import { listEntries } from './query.js';
import type { AuditEventView } from './query.js';

/** The most a host event's metadata may weigh, serialized as JSON. */
export const MAX_METADATA_BYTES = 8 * 1024;

// Namespaces of modules whose actions are not in AUDIT_ACTIONS yet; reserved ahead so a host never
// writes an event that reads like Rampart's own.
const RESERVED_AHEAD = ['audit', 'dsr', 'record', 'vault', 'consent', 'retention', 'platform', 'rampart'];

/** First segments of Rampart's own actions: a host event may not start with one of them. */
export const RESERVED_NAMESPACES: ReadonlySet<string> = new Set([...Object.keys(AUDIT_ACTIONS).map((action) => action.split('.')[0]!), ...RESERVED_AHEAD]);

export const hostEventErrors = defineErrors({
  reserved_action: { status: 400, message: 'This action name is reserved for Rampart' },
  metadata_too_large: { status: 413, message: `metadata must be at most ${MAX_METADATA_BYTES} bytes once serialized as JSON` },
  invalid_metadata: { status: 400, message: 'metadata holds characters that cannot be stored (such as NUL)' },
  unavailable: { status: 503, message: 'The audit log could not take the event; nothing was recorded, retry after the time in Retry-After' },
});

/** What a host application writes (POST /v1/orgs/{org}/audit/events). */
export interface HostEvent {
  action: string;
  actor: AuditActor;
  target: AuditTarget | null;
  metadata: Record<string, unknown>;
  requestId: string;
  meta: RequestMeta;
}

/** An event waiting for its batch: its personal fields are sealed in the batch's transaction. */
interface PendingEntry {
  entry: Omit<NewAuditEntry, 'personal' | 'subjectId'> & { id: string };
  fields: Record<string, unknown>;
}

/** Group-commit bounds: a batch is one transaction, a queue is the backlog one chain may have. */
const MAX_BATCH = 500;
const MAX_QUEUED = 20_000;

/**
 * Host events of many concurrent requests into one chain share a transaction (group commit), so
 * one tenant's chain takes thousands of events per second; no event is acknowledged before its
 * batch committed, and a failed batch fails every request in it with 503.
 */
export function createHostEvents(deps: { db: Kysely<DB>; clock: Clock; logger: Logger }) {
  const committer = new GroupCommitter<PendingEntry, AuditEventView>({
    maxBatch: MAX_BATCH,
    maxQueued: MAX_QUEUED,
    commit: (tenantId, pending) =>
      withTenant(deps.db, tenantId, async (trx) => {
        const sealed = await sealPersonal(trx, tenantId, pending.map(({ entry, fields }) => ({ entryId: entry.id, subject: null, fields })));
        const entries = pending.map(({ entry }, index) => ({ ...entry, ...sealed[index]! }));
        const appended = await appendToChains(trx, [{ tenantId, entries }]);
        const first = appended[0]!.seq;
        const last = appended[appended.length - 1]!.seq;
        // Newest first, as listed; reversed into the order of `entries`.
        return (await listEntries(trx, tenantId, {}, { limit: entries.length, beforeSeq: last + 1 })).filter((event) => event.seq >= first).reverse();
      }),
  });

  return {
    /** Checks and appends one event; resolves with it once it is durable. */
    async append(tenantId: string, event: HostEvent): Promise<AuditEventView> {
      checkHostEvent(event);
      const entry = { id: randomUUID(), at: deps.clock.now(), action: event.action, actor: event.actor, target: event.target, requestId: event.requestId, metadata: event.metadata };
      // The caller's address is the host server's: it is sealed under the tenant's own key.
      const fields = { ip: event.meta.ip, user_agent: event.meta.userAgent?.slice(0, 512) };
      try {
        return await committer.submit(tenantId, { entry, fields });
      } catch (error) {
        if (error instanceof GroupCommitOverloaded) throw hostEventErrors.unavailable(undefined, { headers: { 'retry-after': '1' } });
        deps.logger.error({ err: error }, 'an audit batch failed; its requests were answered 503');
        throw hostEventErrors.unavailable(undefined, { headers: { 'retry-after': '5' } });
      }
    },
    /** Waits for writes in flight (shutdown). */
    settled: () => committer.settled(),
  };
}

export type HostEvents = ReturnType<typeof createHostEvents>;

function checkHostEvent(event: HostEvent): void {
  if (RESERVED_NAMESPACES.has(event.action.split('.')[0]!)) {
    throw hostEventErrors.reserved_action(`Actions starting with "${event.action.split('.')[0]}." are Rampart's own; choose another first segment`);
  }
  const serialized = JSON.stringify(event.metadata);
  if (Buffer.byteLength(serialized) > MAX_METADATA_BYTES) throw hostEventErrors.metadata_too_large();
  // jsonb refuses \u0000 and lone surrogates (JSON.stringify escapes exactly those as \udXXX);
  // refused here so that one request cannot fail the batch it shares with others.
  if (/\\u0000|\\ud[89a-f]/i.test(serialized)) throw hostEventErrors.invalid_metadata();
}
