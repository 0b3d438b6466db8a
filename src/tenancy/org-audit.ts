import { recordAuditEvent } from '../audit/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { TenantTransaction } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { OrgActor } from './org-context.js';

/**
 * Records an action in an org's audit chain, by the member or API key that did it, inside the
 * action's own tenant transaction: every org-scoped module (tenancy, vault) records through here.
 */
export function recordOrgAction(
  trx: TenantTransaction,
  at: Date,
  context: { tenantId: string; actor: OrgActor },
  action: SecurityAction,
  /** The request the action came in; null for a job's own entry (no address, no request id). */
  meta: RequestMeta | null,
  metadata: Record<string, unknown>,
  /** Whose personal data the entry holds (a data subject); by default the acting member. */
  subjectId?: string | null,
): Promise<void> {
  const { tenantId, actor } = context;
  return recordAuditEvent(trx, {
    realm: 'user',
    tenantId,
    principalId: actor.type === 'user' ? actor.id : null,
    actor: { type: actor.type, id: actor.id },
    action,
    ip: meta?.ip ?? null,
    userAgent: meta?.userAgent ?? null,
    requestId: meta?.requestId ?? null,
    metadata,
    at,
    ...(subjectId !== undefined ? { subjectId } : {}),
  });
}
