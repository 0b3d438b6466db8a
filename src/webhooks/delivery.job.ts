import type { Kysely } from 'kysely';
import type { RampartEnv } from '../config.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import type { Job, JobQueue } from '../platform/jobs/index.js';
import { postOnce } from './egress.js';
import * as repo from './webhooks.repository.js';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signPayload } from './signature.js';
import { MAX_DELIVERY_ATTEMPTS, WEBHOOK_DELIVERY_JOB } from './webhooks.service.js';
import type { Webhooks } from './webhooks.service.js';

const TIMEOUT_MS = 10_000;

interface DeliveryPayload {
  tenantId: string;
  endpointId: string;
  eventId: string;
}

/**
 * One delivery of one event to one endpoint per job. Every attempt is logged; a failure throws so
 * the queue retries with its exponential backoff. Once delivered, a re-run (at-least-once jobs)
 * sends nothing: from Rampart's side each endpoint gets an event once, and receivers drop a
 * duplicate by the event id that every attempt carries.
 */
export function registerDeliveryJob(deps: { db: Kysely<DB>; clock: Clock; jobs: JobQueue; webhooks: Webhooks; env: RampartEnv }): void {
  deps.jobs.register(WEBHOOK_DELIVERY_JOB, async (job: Job) => {
    const { tenantId, endpointId, eventId } = job.payload as DeliveryPayload;
    const opened = await withTenant(deps.db, tenantId, async (trx) => {
      if (await repo.wasDelivered(trx, tenantId, endpointId, eventId)) return null;
      const delivery = await deps.webhooks.openDelivery(trx, tenantId, endpointId, eventId);
      // The endpoint was deleted (or the event settled): nothing to send, and this delivery is settled.
      if (!delivery) await repo.settleDelivery(trx, tenantId, eventId);
      return delivery;
    });
    if (!opened) return;
    const started = deps.clock.now();
    const timestamp = Math.floor(started.getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Rampart-Webhooks/1',
      [SIGNATURE_HEADER]: signPayload(opened.secret, timestamp, opened.body),
      [EVENT_ID_HEADER]: eventId,
      [EVENT_TYPE_HEADER]: opened.type,
    };
    const wallStart = performance.now();
    const outcome = await postOnce(new URL(opened.url), headers, opened.body, { timeoutMs: TIMEOUT_MS, allowInternal: deps.env !== 'production' });
    const durationMs = Math.round(performance.now() - wallStart);
    const finalAttempt = job.attempt >= MAX_DELIVERY_ATTEMPTS;
    await withTenant(deps.db, tenantId, async (trx) => {
      await repo.insertDelivery(trx, { tenant_id: tenantId, endpoint_id: endpointId, event_id: eventId, attempt: job.attempt, at: started, status_code: outcome.statusCode, error: outcome.error, duration_ms: durationMs, delivered: outcome.delivered });
      if (outcome.delivered || finalAttempt) await repo.settleDelivery(trx, tenantId, eventId);
    });
    if (!outcome.delivered) throw new Error(`webhook delivery failed: ${outcome.error ?? 'unknown'}`);
  });
}
