import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../audit/index.js';
import type { SecurityAction } from '../../audit/index.js';
import { seal, unseal } from '../../crypto/seal.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB, DsrStatus, DsrType, TenantTransaction } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import type { JobQueue } from '../../platform/jobs/index.js';
import { allows, recordOrgAction } from '../../tenancy/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import type { SubjectFlag, Vault } from '../../vault/index.js';
import type { Webhooks } from '../../webhooks/index.js';
import type { Suppressions } from '../suppressions.service.js';
import * as repo from './dsr.repository.js';
import type { HistoryRow, RequestRow } from './dsr.repository.js';
import { dsrErrors } from './dsr.errors.js';

const DAY_MS = 86_400_000;
/** Art. 12(3): one month, which Rampart counts as 30 days so a deadline never falls short. */
const RESPONSE_DAYS = 30;
export const ERASURE_JOB = 'dsr.erase';

export interface Correction {
  collection: string;
  key: string;
  data: Record<string, unknown>;
}

export interface CreateInput {
  type: DsrType;
  subject_id: string;
  email?: string | undefined;
  corrections?: Correction[] | undefined;
}

export interface DsrView {
  id: string;
  type: DsrType;
  subject_id: string;
  status: DsrStatus;
  created_at: string;
  due_at: string;
  extension_reason: string | null;
  rejection_reason: string | null;
  closed_at: string | null;
  erase_after: string | null;
  overdue: boolean;
}

export interface HistoryView {
  seq: number;
  at: string;
  event: string;
  actor: { type: string; id: string | null };
  detail: Record<string, unknown>;
  previous?: Record<string, unknown>;
}

/** Who did a step: a member, an API key, or Rampart itself (a job). */
export type Actor = { type: 'user' | 'api_key' | 'system'; id: string | null };

/** The flag each type puts on the subject while it is open (and, for restriction and objection, after). */
const FLAG_OF: Partial<Record<DsrType, SubjectFlag>> = { erasure: 'erased', restriction: 'restricted', objection: 'objected' };

export interface DsrDependencies {
  db: Kysely<DB>;
  clock: Clock;
  jobs: JobQueue;
  vault: Vault;
  webhooks: Webhooks;
  suppressions: Suppressions;
  /** Seals subject ids, corrections and old versions in requests (deriveKey(root, 'dsr')). */
  sealingKey: Buffer;
}

function addMonths(date: Date, months: number): Date {
  const next = new Date(date);
  next.setUTCMonth(next.getUTCMonth() + months);
  return next;
}

/**
 * Data-subject requests (GDPR Art. 15-21): intake with deadlines, status with history, the flags
 * that take effect at once, rectification through the vault, and the erasure's first half (the
 * job in erasure.job.ts does the rest). Every step is audited in the org's chain, in its transaction.
 */
export function createDsr(deps: DsrDependencies) {
  const { db, clock, vault } = deps;

  const subjectAad = (tenantId: string, requestId: string) => `dsr-subject:${tenantId}:${requestId}`;
  const detailsAad = (tenantId: string, requestId: string) => `dsr-details:${tenantId}:${requestId}`;
  const previousAad = (tenantId: string, requestId: string, collection: string, key: string) => `dsr-previous:${tenantId}:${requestId}:${collection}/${key}`;

  function subjectOf(row: RequestRow): string {
    return unseal(deps.sealingKey, Buffer.from(row.subject_sealed), subjectAad(row.tenant_id, row.request_id)).toString('utf8');
  }

  function viewOf(row: RequestRow): DsrView {
    const open = repo.OPEN_STATUSES.includes(row.status);
    return {
      id: row.request_id,
      type: row.type,
      subject_id: subjectOf(row),
      status: row.status,
      created_at: row.received_at.toISOString(),
      due_at: row.due_at.toISOString(),
      extension_reason: row.extension_reason,
      rejection_reason: row.rejection_reason,
      closed_at: row.closed_at?.toISOString() ?? null,
      erase_after: row.erase_after?.toISOString() ?? null,
      overdue: open && row.due_at.getTime() < clock.now().getTime(),
    };
  }

  /** A history step; `withPrevious`: a correction's earlier record version, for callers who may read records. */
  function historyView(row: HistoryRow, withPrevious: boolean): HistoryView {
    const view: HistoryView = { seq: row.seq, at: row.at.toISOString(), event: row.event, actor: { type: row.actor_type, id: row.actor_id }, detail: row.detail as Record<string, unknown> };
    if (row.previous_sealed && withPrevious) {
      const { collection, key } = row.detail as { collection: string; key: string };
      view.previous = JSON.parse(unseal(deps.sealingKey, Buffer.from(row.previous_sealed), previousAad(row.tenant_id, row.request_id, collection, key)).toString('utf8')) as Record<string, unknown>;
    }
    return view;
  }

  /** Audits a step: by the request's caller, or by Rampart (the erasure job). The subject id is personal. */
  async function audit(trx: TenantTransaction, tenantId: string, by: { context: OrgContext; meta: RequestMeta } | null, action: SecurityAction, metadata: Record<string, unknown>, subjectId: string | null): Promise<void> {
    const at = clock.now();
    if (by) return recordOrgAction(trx, at, by.context, action, by.meta, metadata, subjectId);
    await recordAuditEvent(trx, { realm: 'user', tenantId, principalId: null, actor: { type: 'system', id: null }, action, ip: null, userAgent: null, metadata, at, subjectId });
  }

  function actorOf(context: OrgContext): Actor {
    return { type: context.actor.type, id: context.actor.id };
  }

  function step(trx: TenantTransaction, row: RequestRow, actor: Actor, event: string, detail: Record<string, unknown> = {}, previousSealed: Buffer | null = null) {
    return repo.appendHistory(trx, { tenant_id: row.tenant_id, request_id: row.request_id, at: clock.now(), event, actor_type: actor.type, actor_id: actor.id, detail, previous_sealed: previousSealed });
  }

  async function flag(trx: TenantTransaction, row: RequestRow, subjectId: string, actor: Actor, by: { context: OrgContext; meta: RequestMeta } | null, on: boolean): Promise<void> {
    const name = FLAG_OF[row.type];
    if (!name) return;
    await vault.subjects.setFlag(trx, row.tenant_id, subjectId, name, on);
    await step(trx, row, actor, on ? 'subject_flagged' : 'subject_unflagged', { flag: name });
    await audit(trx, row.tenant_id, by, 'dsr.subject_flagged', { request_id: row.request_id, flag: name, on, subject_id: subjectId }, subjectId);
  }

  async function load(trx: TenantTransaction, tenantId: string, requestId: string, options: { lock?: boolean } = {}): Promise<RequestRow> {
    const row = await repo.findRequest(trx, tenantId, requestId, options);
    if (!row) throw dsrErrors.not_found();
    return row;
  }

  /** Closes a request: drops what it kept only while open (corrections, old versions). */
  async function close(trx: TenantTransaction, row: RequestRow, status: 'completed' | 'rejected', reason: string | null, actor: Actor, by: { context: OrgContext; meta: RequestMeta } | null, extra: { receipt?: string } = {}): Promise<void> {
    const subjectId = subjectOf(row);
    await repo.updateRequest(trx, row.tenant_id, row.request_id, { status, rejection_reason: reason, closed_at: clock.now(), details_sealed: null, ...extra });
    await repo.dropPreviousVersions(trx, row.tenant_id, row.request_id);
    await step(trx, row, actor, status, reason ? { reason } : {});
    // A completed erasure's entry names no subject: the subject's key was just destroyed, and
    // sealing their id now would make them a new key.
    const about = row.type === 'erasure' && status === 'completed' ? null : subjectId;
    await audit(trx, row.tenant_id, by, 'dsr.status_changed', { request_id: row.request_id, type: row.type, from: row.status, to: status, ...(reason ? { reason } : {}), ...(about ? { subject_id: about } : {}) }, about);
    if (status === 'completed') await deps.webhooks.emit(trx, row.tenant_id, 'dsr.completed', { request_id: row.request_id, type: row.type }, row.request_id);
  }

  return {
    subjectOf,
    viewOf,
    step,
    close,
    audit,

    async create(context: OrgContext, input: CreateInput, meta: RequestMeta): Promise<DsrView> {
      const { tenantId } = context;
      if ((input.type === 'rectification') !== (input.corrections !== undefined)) {
        throw dsrErrors.invalid_request('corrections are required for a rectification request and only allowed there');
      }
      const emailHash = input.email === undefined ? null : deps.suppressions.hashOf(tenantId, input.email);
      const requestId = randomUUID();
      const now = clock.now();
      const subjectIndex = vault.subjectIndex(tenantId, input.subject_id);
      const by = { context, meta };
      const actor = actorOf(context);
      try {
        return await withTenant(db, tenantId, async (trx) => {
          if (await repo.hasOpenRequest(trx, tenantId, subjectIndex, input.type)) throw dsrErrors.duplicate();
          for (const correction of input.corrections ?? []) {
            // Only the subject's own records can be corrected by their request.
            if (!(await vault.subjects.ownsRecord(trx, tenantId, input.subject_id, correction.collection, correction.key))) throw dsrErrors.unknown_record();
          }
          const erasure = input.type === 'erasure';
          const eraseAfter = erasure ? new Date(now.getTime() + context.org.erasure_grace_days * DAY_MS) : null;
          const row: Omit<RequestRow, 'receipt'> = {
            tenant_id: tenantId,
            request_id: requestId,
            type: input.type,
            subject_index: subjectIndex,
            subject_sealed: seal(deps.sealingKey, Buffer.from(input.subject_id, 'utf8'), subjectAad(tenantId, requestId)),
            status: 'received',
            details_sealed: input.corrections ? seal(deps.sealingKey, Buffer.from(JSON.stringify(input.corrections), 'utf8'), detailsAad(tenantId, requestId)) : null,
            email_hash: emailHash,
            rejection_reason: null,
            received_at: now,
            due_at: new Date(now.getTime() + RESPONSE_DAYS * DAY_MS),
            extension_reason: null,
            closed_at: null,
            erase_after: eraseAfter,
            created_by_type: context.actor.type,
            created_by_id: context.actor.id,
          };
          await repo.insertRequest(trx, row);
          const full = { ...row, receipt: null };
          await step(trx, full, actor, 'received', { type: input.type });
          await audit(trx, tenantId, by, 'dsr.created', { request_id: requestId, type: input.type, due_at: row.due_at.toISOString(), subject_id: input.subject_id }, input.subject_id);
          await deps.webhooks.emit(trx, tenantId, 'dsr.created', { request_id: requestId, type: input.type, due_at: row.due_at.toISOString() }, requestId);
          if (FLAG_OF[input.type]) {
            // Erasure, restriction and objection take effect at once; the request is then in progress.
            await flag(trx, full, input.subject_id, actor, by, true);
            await repo.updateRequest(trx, tenantId, requestId, { status: 'in_progress' });
            await step(trx, full, actor, 'in_progress');
            full.status = 'in_progress';
          }
          if (input.type === 'objection' && emailHash) {
            const added = await deps.suppressions.addInTransaction(trx, tenantId, emailHash, 'objection', requestId);
            await step(trx, full, actor, 'suppressed', { added });
            if (added) await audit(trx, tenantId, by, 'suppression.added', { source: 'objection' }, input.subject_id);
          }
          if (erasure) {
            await deps.webhooks.emit(trx, tenantId, 'dsr.erasure_requested', { request_id: requestId, subject_id: input.subject_id, erase_after: eraseAfter!.toISOString() }, requestId);
            await deps.jobs.enqueue(trx, ERASURE_JOB, { tenantId, requestId }, { runAt: eraseAfter!, idempotencyKey: `dsr-erase:${requestId}` });
          }
          return viewOf(full);
        });
      } catch (error) {
        // Two requests racing past the check: the partial unique index decides.
        if ((error as { code?: string }).code === '23505') throw dsrErrors.duplicate();
        throw error;
      }
    },

    async list(context: OrgContext, query: { status?: DsrStatus | undefined; overdue?: boolean | undefined; due_within_days?: number | undefined; limit: number; cursor?: string | undefined }) {
      let after: { receivedAt: Date; requestId: string } | undefined;
      if (query.cursor) {
        const [time, id] = Buffer.from(query.cursor, 'base64url').toString('utf8').split('|');
        after = { receivedAt: new Date(time ?? ''), requestId: id ?? '' };
        if (Number.isNaN(after.receivedAt.getTime()) || !/^[0-9a-f-]{36}$/.test(after.requestId)) throw dsrErrors.invalid_cursor();
      }
      const now = clock.now().getTime();
      const dueBefore = query.due_within_days !== undefined ? new Date(now + query.due_within_days * DAY_MS) : query.overdue ? new Date(now) : undefined;
      return withTenant(db, context.tenantId, async (trx) => {
        const rows = await repo.listRequests(trx, context.tenantId, { status: query.status, dueBefore, after, limit: query.limit + 1 });
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return {
          data: page.map(viewOf),
          next_cursor: rows.length > query.limit && last ? Buffer.from(`${last.received_at.toISOString()}|${last.request_id}`, 'utf8').toString('base64url') : null,
        };
      });
    },

    async get(context: OrgContext, requestId: string): Promise<DsrView & { history: HistoryView[] }> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId);
        // A record's earlier version is record data: shown only to who may read records (dsr:read
        // alone does not), and never for a restricted or objecting subject, whose records only an
        // owner giving a reason reads, through the vault's routes.
        const flags = row.type === 'rectification' ? await vault.subjects.flags(trx, context.tenantId, subjectOf(row)) : null;
        const withPrevious = allows(context, 'records:read') && !flags?.restricted && !flags?.objected;
        return { ...viewOf(row), history: (await repo.listHistory(trx, context.tenantId, requestId)).map((step) => historyView(step, withPrevious)) };
      });
    },

    /**
     * Moves a request on. Erasures complete only through their job; rejecting an erasure, a
     * restriction or an objection lifts its flag (and an objection's suppression).
     */
    async setStatus(context: OrgContext, requestId: string, input: { status: 'in_progress' | 'completed' | 'rejected'; reason?: string | undefined }, meta: RequestMeta): Promise<DsrView> {
      if (input.status === 'rejected' && !input.reason) throw dsrErrors.invalid_request('A rejection needs a reason (it is given to the data subject)');
      const by = { context, meta };
      const actor = actorOf(context);
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId, { lock: true });
        if (!repo.OPEN_STATUSES.includes(row.status)) throw dsrErrors.closed();
        if (input.status === 'in_progress') {
          if (row.status !== 'received') throw dsrErrors.transition();
          await repo.updateRequest(trx, row.tenant_id, requestId, { status: 'in_progress' });
          await step(trx, row, actor, 'in_progress');
          await audit(trx, row.tenant_id, by, 'dsr.status_changed', { request_id: requestId, type: row.type, from: row.status, to: 'in_progress', subject_id: subjectOf(row) }, subjectOf(row));
        } else if (input.status === 'completed') {
          if (row.type === 'erasure') throw dsrErrors.transition('An erasure completes when its job has deleted the data and destroyed the keys');
          await close(trx, row, 'completed', null, actor, by);
        } else {
          if (row.type === 'erasure' && (await repo.listHistory(trx, row.tenant_id, requestId)).some((entry) => entry.event === 'erasure_started')) {
            throw dsrErrors.transition('The erasure has started; it cannot be rejected any more');
          }
          await flag(trx, row, subjectOf(row), actor, by, false);
          if (row.type === 'objection') await deps.suppressions.removeOfRequest(trx, row.tenant_id, requestId);
          await close(trx, row, 'rejected', input.reason!, actor, by);
        }
        return viewOf((await repo.findRequest(trx, row.tenant_id, requestId))!);
      });
    },

    /** Art. 12(3): once, by one or two months, with the reason the subject is told. */
    async extend(context: OrgContext, requestId: string, input: { months: 1 | 2; reason: string }, meta: RequestMeta): Promise<DsrView> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId, { lock: true });
        if (!repo.OPEN_STATUSES.includes(row.status)) throw dsrErrors.closed();
        if (row.extension_reason !== null) throw dsrErrors.already_extended();
        const dueAt = addMonths(row.due_at, input.months);
        await repo.updateRequest(trx, row.tenant_id, requestId, { due_at: dueAt, extension_reason: input.reason });
        await step(trx, row, actorOf(context), 'extended', { months: input.months, due_at: dueAt.toISOString(), reason: input.reason });
        await audit(trx, row.tenant_id, { context, meta }, 'dsr.extended', { request_id: requestId, due_at: dueAt.toISOString(), reason: input.reason, subject_id: subjectOf(row) }, subjectOf(row));
        return viewOf((await repo.findRequest(trx, row.tenant_id, requestId))!);
      });
    },

    /** The host application confirms it erased the subject in its own stores (cited by the receipt). */
    async confirm(context: OrgContext, requestId: string, meta: RequestMeta): Promise<{ request_id: string; confirmed_at: string }> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId, { lock: true });
        if (row.type !== 'erasure') throw dsrErrors.wrong_type();
        if (row.status === 'rejected') throw dsrErrors.closed();
        const at = clock.now();
        await step(trx, row, actorOf(context), 'erasure_confirmed');
        await audit(trx, row.tenant_id, { context, meta }, 'dsr.erasure_confirmed', { request_id: requestId }, null);
        return { request_id: requestId, confirmed_at: at.toISOString() };
      });
    },

    /**
     * Applies a rectification's corrections through the vault, in one transaction. Each record's
     * old version is kept, sealed, in the request's history until the request closes.
     */
    async applyCorrections(context: OrgContext, requestId: string, meta: RequestMeta): Promise<DsrView> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId, { lock: true });
        if (row.type !== 'rectification') throw dsrErrors.wrong_type();
        if (!repo.OPEN_STATUSES.includes(row.status)) throw dsrErrors.closed();
        if ((await repo.listHistory(trx, row.tenant_id, requestId)).some((entry) => entry.event === 'rectified')) throw dsrErrors.already_applied();
        const subjectId = subjectOf(row);
        const corrections = JSON.parse(unseal(deps.sealingKey, Buffer.from(row.details_sealed!), detailsAad(row.tenant_id, requestId)).toString('utf8')) as Correction[];
        const actor = actorOf(context);
        for (const correction of corrections) {
          const previous = await vault.subjects.rectify(trx, row.tenant_id, subjectId, correction.collection, correction.key, correction.data);
          if (!previous) throw dsrErrors.unknown_record();
          const sealed = seal(deps.sealingKey, Buffer.from(JSON.stringify(previous.data), 'utf8'), previousAad(row.tenant_id, requestId, correction.collection, correction.key));
          await step(trx, row, actor, 'rectified', { collection: correction.collection, key: correction.key }, sealed);
        }
        if (row.status === 'received') await repo.updateRequest(trx, row.tenant_id, requestId, { status: 'in_progress' });
        await audit(trx, row.tenant_id, { context, meta }, 'dsr.rectified', { request_id: requestId, records: corrections.length, subject_id: subjectId }, subjectId);
        return viewOf((await repo.findRequest(trx, row.tenant_id, requestId))!);
      });
    },

    /** The signed receipt of a completed erasure. */
    async receipt(context: OrgContext, requestId: string): Promise<{ receipt: Record<string, unknown>; signature: string }> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId);
        if (row.type !== 'erasure') throw dsrErrors.wrong_type();
        if (!row.receipt) throw dsrErrors.no_receipt();
        return row.receipt as { receipt: Record<string, unknown>; signature: string };
      });
    },

    /** The request, for an export (access or portability, not rejected). */
    async forExport(context: OrgContext, requestId: string): Promise<{ row: RequestRow; subjectId: string }> {
      return withTenant(db, context.tenantId, async (trx) => {
        const row = await load(trx, context.tenantId, requestId);
        if (row.type !== 'access' && row.type !== 'portability') throw dsrErrors.wrong_type();
        if (row.status === 'rejected') throw dsrErrors.closed();
        return { row, subjectId: subjectOf(row) };
      });
    },
  };
}

export type Dsr = ReturnType<typeof createDsr>;
