import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../audit/index.js';
import type { AuditActor } from '../../audit/index.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB, TenantTransaction } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import { ErasedError } from '../../vault/index.js';
import type { Vault } from '../../vault/index.js';
import type { PrivacySettings } from '../settings/settings.service.js';
import { purposesOf } from '../settings/settings.service.js';
import { consentErrors } from './consent.errors.js';
import * as repo from './consent.repository.js';
import type { ConsentRow } from './consent.repository.js';
import { truncateIp, truncateUserAgent } from './proof.js';

/** What the public endpoint's subject ids are stored under: `visitor:<the id the page sent>`. */
export const VISITOR_PREFIX = 'visitor:';

/** A browser's request not to be tracked: Global Privacy Control (`Sec-GPC: 1`) or Do Not Track (`DNT: 1`). */
export type OptOutSignal = 'gpc' | 'dnt' | null;

export interface ConsentInput {
  subject_id: string;
  purposes: Record<string, boolean>;
  source: string;
  policy_version: string;
}

export interface ConsentView {
  id: string;
  subject_id: string;
  purposes: Record<string, boolean>;
  source: string;
  policy_version: string;
  signal: OptOutSignal;
  recorded_at: string;
  proof: { ip: string | null; user_agent: string | null };
}

// The newest records shown as a subject's history; a person changing their mind more often than
// this in one org is not a real case, and the response stays bounded.
const HISTORY_LIMIT = 500;

/** The proof's place in the key hierarchy: a sealed proof copied to another record does not open. */
const proofPlace = (consentId: string) => ({ collection: '@consents', recordKey: consentId, field: 'proof' });

/** The opt-out signal of a request's headers; GPC wins when both are sent. */
export function optOutSignal(headers: Record<string, string | string[] | undefined>): OptOutSignal {
  if (headers['sec-gpc'] === '1') return 'gpc';
  if (headers.dnt === '1') return 'dnt';
  return null;
}

function actorOf(context: OrgContext): AuditActor {
  return { type: context.actor.type, id: context.actor.id };
}

/**
 * Consent records: append-only (the database role may insert and read, never change), one per
 * choice, the current state being the newest. The subject id and the proof (truncated IP and user
 * agent) are sealed under the subject's data key, so an erasure shreds them with the rest.
 */
export function createConsents(deps: { db: Kysely<DB>; clock: Clock; vault: Pick<Vault, 'encryptForSubject' | 'decrypt' | 'subjectIndex'>; settings: PrivacySettings }) {
  const { db, clock, vault } = deps;

  /** Every purpose of the org, decided: unknown ones refused, `necessary` always on, the rest off under an opt-out signal. */
  function decide(known: string[], asked: Record<string, boolean>, signal: OptOutSignal): Record<string, boolean> {
    const unknown = Object.keys(asked).find((purpose) => !known.includes(purpose));
    if (unknown !== undefined) throw consentErrors.unknown_purpose();
    if (asked.necessary === false) throw consentErrors.necessary_refused();
    return Object.fromEntries(known.map((purpose) => [purpose, purpose === 'necessary' || (signal === null && asked[purpose] === true)]));
  }

  async function open(trx: TenantTransaction, tenantId: string, row: ConsentRow): Promise<ConsentView> {
    const proof = JSON.parse((await vault.decrypt(trx, tenantId, proofPlace(row.consent_id), row.proof_sealed)).toString('utf8')) as { subject_id: string; ip: string | null; user_agent: string | null };
    return {
      id: row.consent_id,
      subject_id: proof.subject_id,
      purposes: row.purposes,
      source: row.source,
      policy_version: row.policy_version,
      signal: row.signal,
      recorded_at: row.recorded_at.toISOString(),
      proof: { ip: proof.ip, user_agent: proof.user_agent },
    };
  }

  async function record(tenantId: string, actor: AuditActor, input: ConsentInput, meta: RequestMeta, signal: OptOutSignal): Promise<ConsentView> {
    return withTenant(db, tenantId, async (trx) => {
      const purposes = decide(purposesOf(await deps.settings.read(trx, tenantId)), input.purposes, signal);
      const consentId = randomUUID();
      const at = clock.now();
      const proof = { subject_id: input.subject_id, ip: truncateIp(meta.ip), user_agent: truncateUserAgent(meta.userAgent) };
      const proofSealed = await vault.encryptForSubject(trx, tenantId, input.subject_id, proofPlace(consentId), Buffer.from(JSON.stringify(proof), 'utf8'));
      await repo.insertConsent(trx, { tenantId, consentId, subjectIndex: vault.subjectIndex(tenantId, input.subject_id), proofSealed, purposes, source: input.source, policyVersion: input.policy_version, signal, at });
      // The truncated address and agent, not the full ones: the audit entry keeps no more than the proof.
      await recordAuditEvent(trx, {
        realm: 'user',
        tenantId,
        principalId: actor.type === 'user' ? actor.id : null,
        actor,
        action: 'consent.recorded',
        ip: proof.ip,
        userAgent: proof.user_agent,
        requestId: meta.requestId ?? null,
        metadata: { consent_id: consentId, purposes, source: input.source, policy_version: input.policy_version, signal, subject_id: input.subject_id },
        subjectId: input.subject_id,
        at,
      });
      return { id: consentId, subject_id: input.subject_id, purposes, source: input.source, policy_version: input.policy_version, signal, recorded_at: at.toISOString(), proof: { ip: proof.ip, user_agent: proof.user_agent } };
    });
  }

  return {
    /** Records a choice passed on by a member or an API key (consent:write). */
    recordForOrg: (context: OrgContext, input: ConsentInput, meta: RequestMeta) => record(context.tenantId, actorOf(context), input, meta, null),

    /**
     * Records a choice from the org's website (the banner), found by the org's public id. A page
     * on an origin the org did not allow is refused; a request with no Origin (not a browser) is
     * let through, as nothing stops it from sending any Origin it likes: the rate limit guards.
     */
    async recordPublic(publicId: string, origin: string | null, input: Omit<ConsentInput, 'source'>, meta: RequestMeta, signal: OptOutSignal): Promise<ConsentView> {
      const tenantId = await repo.tenantOfPublicId(db, publicId);
      if (!tenantId) throw consentErrors.not_found();
      if (origin !== null && !(await this.allowsOrigin(tenantId, origin))) throw consentErrors.origin_not_allowed();
      // Anyone can post here (the public id is in the page's source): the subject is namespaced, so a
      // forged post can never overwrite a choice the host recorded for one of its own subject ids.
      return record(tenantId, { type: 'system', id: 'consent_banner' }, { ...input, subject_id: `${VISITOR_PREFIX}${input.subject_id}`, source: 'banner' }, meta, signal);
    },

    /** Whether the org named by `publicId` lets pages on `origin` call its public endpoint (CORS). */
    async allowsOrigin(tenantId: string, origin: string): Promise<boolean> {
      const settings = await withTenant(db, tenantId, (trx) => deps.settings.read(trx, tenantId));
      return settings.allowed_origins.includes(origin);
    },

    tenantOfPublicId: (publicId: string) => repo.tenantOfPublicId(db, publicId),

    /** A subject's current choices and their history, newest first; 404 for an unknown or erased subject. */
    async ofSubject(context: OrgContext, subjectId: string): Promise<{ current: ConsentView; history: ConsentView[] }> {
      const history = await this.historyOf(context, subjectId);
      if (!history.current) throw consentErrors.not_found();
      return { current: history.current, history: history.history };
    },

    /** The same, empty for a subject with none (or erased): what an access request's bundle holds (src/privacy/dsr). */
    async historyOf(context: OrgContext, subjectId: string): Promise<{ current: ConsentView | null; history: ConsentView[] }> {
      const { tenantId } = context;
      return withTenant(db, tenantId, async (trx) => {
        const rows = await repo.listConsentsOf(trx, tenantId, vault.subjectIndex(tenantId, subjectId), HISTORY_LIMIT);
        try {
          const history = await Promise.all(rows.map((row) => open(trx, tenantId, row)));
          return { current: history[0] ?? null, history };
        } catch (error) {
          if (error instanceof ErasedError) return { current: null, history: [] };
          throw error;
        }
      });
    },

    /** Every consent record of the org, opened, in id order: for the whole-org export. */
    async *everyConsent(tenantId: string, batch: number): AsyncGenerator<ConsentView | { id: string; erased: true }> {
      for (let after: string | null = null; ; ) {
        const rows = await withTenant(db, tenantId, async (trx) => {
          const page = await repo.pageConsents(trx, tenantId, after, batch);
          const opened: Array<ConsentView | { id: string; erased: true }> = [];
          for (const row of page) opened.push(await open(trx, tenantId, row).catch((error: unknown) => {
            if (error instanceof ErasedError) return { id: row.consent_id, erased: true as const };
            throw error;
          }));
          return opened;
        });
        yield* rows;
        if (rows.length < batch) return;
        after = rows.at(-1)!.id;
      }
    },

    count: (tenantId: string) => withTenant(db, tenantId, (trx) => repo.countConsents(trx, tenantId)),
  };
}

export type Consents = ReturnType<typeof createConsents>;
