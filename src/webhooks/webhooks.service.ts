import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RampartEnv } from '../config.js';
import { seal, unseal } from '../crypto/seal.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import { recordOrgAction } from '../tenancy/index.js';
import type { OrgContext } from '../tenancy/index.js';
import * as repo from './webhooks.repository.js';
import type { EndpointRow } from './webhooks.repository.js';
import { webhookErrors } from './webhooks.errors.js';

/** Events Rampart sends; an endpoint subscribes to some or all of them. */
export const WEBHOOK_EVENTS = ['dsr.erasure_requested', 'dsr.created', 'dsr.completed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_DELIVERY_JOB = 'webhook.deliver';
/** With the queue's backoff (5 s doubling, capped at an hour) this spans about a day and a half. */
export const MAX_DELIVERY_ATTEMPTS = 15;
const SECRET_PREFIX = 'whsec_';

export interface EndpointView {
  id: string;
  url: string;
  events: string[];
  created_at: string;
}

function viewOf(row: EndpointRow): EndpointView {
  return { id: row.endpoint_id, url: row.url, events: row.events, created_at: row.created_at.toISOString() };
}

function secretAad(tenantId: string, endpointId: string): string {
  return `webhook-secret:${tenantId}:${endpointId}`;
}

function eventAad(tenantId: string, eventId: string): string {
  return `webhook-event:${tenantId}:${eventId}`;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Accepts https URLs only in production; elsewhere also http to this machine (tests and local
 * development). No credentials in the URL: they would be stored and shown in lists.
 */
export function checkWebhookUrl(input: string, env: RampartEnv): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw webhookErrors.invalid_url();
  }
  if (url.username || url.password || url.hash) throw webhookErrors.invalid_url();
  const localHttp = env !== 'production' && url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !localHttp) throw webhookErrors.invalid_url();
  return url;
}

export interface WebhookDependencies {
  db: Kysely<DB>;
  clock: Clock;
  jobs: JobQueue;
  env: RampartEnv;
  /** The secrets hierarchy's key (deriveKey(root, 'secrets')), as for TOTP secrets. */
  secretsKey: Buffer;
}

/** Org webhook endpoints and the events sent to them. Deliveries run as jobs (delivery.job.ts). */
export function createWebhooks(deps: WebhookDependencies) {
  const { db, clock } = deps;

  return {
    async create(context: OrgContext, input: { url: string; events?: string[] | undefined }, meta: RequestMeta): Promise<EndpointView & { secret: string }> {
      const url = checkWebhookUrl(input.url, deps.env).toString();
      const events = [...new Set(input.events ?? WEBHOOK_EVENTS)].sort();
      const endpointId = randomUUID();
      const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
      const at = clock.now();
      return withTenant(db, context.tenantId, async (trx) => {
        const row = {
          tenant_id: context.tenantId,
          endpoint_id: endpointId,
          url,
          events,
          secret_sealed: seal(deps.secretsKey, Buffer.from(secret, 'utf8'), secretAad(context.tenantId, endpointId)),
          created_by: context.actor.id,
          created_at: at,
        };
        await repo.insertEndpoint(trx, row);
        await recordOrgAction(trx, at, context, 'webhook.endpoint_created', meta, { endpoint_id: endpointId, url, events });
        return { ...viewOf({ ...row, deleted_at: null }), secret };
      });
    },

    async list(context: OrgContext): Promise<EndpointView[]> {
      return withTenant(db, context.tenantId, async (trx) => (await repo.listLiveEndpoints(trx, context.tenantId)).map(viewOf));
    },

    async remove(context: OrgContext, endpointId: string, meta: RequestMeta): Promise<void> {
      await withTenant(db, context.tenantId, async (trx) => {
        if (!(await repo.markEndpointDeleted(trx, context.tenantId, endpointId, clock.now()))) throw webhookErrors.not_found();
        await recordOrgAction(trx, clock.now(), context, 'webhook.endpoint_deleted', meta, { endpoint_id: endpointId });
      });
    },

    async deliveries(context: OrgContext, endpointId: string, limit: number, cursor: string | null) {
      const before = cursor === null ? null : { at: new Date(Buffer.from(cursor, 'base64url').toString('utf8')) };
      if (before && Number.isNaN(before.at.getTime())) throw webhookErrors.invalid_cursor();
      return withTenant(db, context.tenantId, async (trx) => {
        if (!(await repo.findEndpoint(trx, context.tenantId, endpointId))) throw webhookErrors.not_found();
        const rows = await repo.listDeliveries(trx, context.tenantId, endpointId, limit + 1, before);
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          data: page.map((row) => ({
            event_id: row.event_id,
            event_type: row.type,
            attempt: row.attempt,
            at: row.at.toISOString(),
            status_code: row.status_code,
            error: row.error,
            duration_ms: row.duration_ms,
            delivered: row.delivered,
          })),
          next_cursor: rows.length > limit && last ? Buffer.from(last.at.toISOString(), 'utf8').toString('base64url') : null,
        };
      });
    },

    /**
     * Records an event and queues one delivery job per subscribed endpoint, in the caller's
     * transaction: the event is sent if and only if the action commits. The body is sealed (it may
     * name a data subject). Returns the event id (receivers dedupe on it).
     */
    async emit(trx: TenantTransaction, tenantId: string, type: WebhookEventType, data: Record<string, unknown>, requestId: string | null): Promise<string> {
      const eventId = randomUUID();
      const at = clock.now();
      const body = JSON.stringify({ id: eventId, type, created_at: at.toISOString(), org_id: tenantId, data });
      const endpoints = (await repo.listLiveEndpoints(trx, tenantId)).filter((endpoint) => endpoint.events.includes(type));
      const sealed = seal(deps.secretsKey, Buffer.from(body, 'utf8'), eventAad(tenantId, eventId));
      await repo.insertEvent(trx, { tenant_id: tenantId, event_id: eventId, type, body_sealed: endpoints.length > 0 ? sealed : null, pending_deliveries: endpoints.length, request_id: requestId, created_at: at });
      for (const endpoint of endpoints) {
        await deps.jobs.enqueue(trx, WEBHOOK_DELIVERY_JOB, { tenantId, endpointId: endpoint.endpoint_id, eventId }, { idempotencyKey: `webhook:${eventId}:${endpoint.endpoint_id}`, maxAttempts: MAX_DELIVERY_ATTEMPTS });
      }
      return eventId;
    },

    /** The endpoint's signing secret, and the event's body, for a delivery (null when either is gone). */
    async openDelivery(trx: TenantTransaction, tenantId: string, endpointId: string, eventId: string): Promise<{ url: string; secret: string; body: string; type: string } | null> {
      const endpoint = await repo.findEndpoint(trx, tenantId, endpointId);
      const event = await repo.findEvent(trx, tenantId, eventId);
      if (!endpoint || endpoint.deleted_at || !event?.body_sealed) return null;
      return {
        url: endpoint.url,
        secret: unseal(deps.secretsKey, Buffer.from(endpoint.secret_sealed), secretAad(tenantId, endpointId)).toString('utf8'),
        body: unseal(deps.secretsKey, Buffer.from(event.body_sealed), eventAad(tenantId, eventId)).toString('utf8'),
        type: event.type,
      };
    },


    /** Deliveries of a request's events, for its erasure receipt. */
    deliveriesForRequest: (trx: TenantTransaction, tenantId: string, requestId: string) => repo.deliveriesForRequest(trx, tenantId, requestId),
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
