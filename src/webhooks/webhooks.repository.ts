import type { Selectable } from 'kysely';
import type { TenantTransaction } from '../platform/db/index.js';
import type { WebhookDeliveriesTable, WebhookEndpointsTable } from '../platform/db/schema.js';

export type EndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export async function insertEndpoint(trx: TenantTransaction, row: Omit<EndpointRow, 'deleted_at'>): Promise<void> {
  await trx.insertInto('webhook_endpoints').values(row).execute();
}

export function findEndpoint(trx: TenantTransaction, tenantId: string, endpointId: string): Promise<EndpointRow | undefined> {
  return trx.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).executeTakeFirst();
}

export function listLiveEndpoints(trx: TenantTransaction, tenantId: string): Promise<EndpointRow[]> {
  return trx.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('deleted_at', 'is', null).orderBy('created_at').orderBy('endpoint_id').execute();
}

export async function markEndpointDeleted(trx: TenantTransaction, tenantId: string, endpointId: string, at: Date): Promise<boolean> {
  const result = await trx.updateTable('webhook_endpoints').set({ deleted_at: at }).where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function insertEvent(trx: TenantTransaction, row: { tenant_id: string; event_id: string; type: string; body_sealed: Buffer | null; pending_deliveries: number; request_id: string | null; created_at: Date }): Promise<void> {
  await trx.insertInto('webhook_events').values(row).execute();
}

export function findEvent(trx: TenantTransaction, tenantId: string, eventId: string) {
  return trx.selectFrom('webhook_events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).executeTakeFirst();
}

/** One delivery of the event settled; the last one drops the sealed body (it may name a data subject). */
export async function settleDelivery(trx: TenantTransaction, tenantId: string, eventId: string): Promise<void> {
  await trx
    .updateTable('webhook_events')
    .set((eb) => ({ pending_deliveries: eb('pending_deliveries', '-', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('event_id', '=', eventId)
    .where('pending_deliveries', '>', 0)
    .execute();
  await trx.updateTable('webhook_events').set({ body_sealed: null }).where('tenant_id', '=', tenantId).where('event_id', '=', eventId).where('pending_deliveries', '=', 0).execute();
}

export async function insertDelivery(trx: TenantTransaction, row: DeliveryRow): Promise<void> {
  // A takeover of the same attempt by another worker records once.
  await trx.insertInto('webhook_deliveries').values(row).onConflict((conflict) => conflict.doNothing()).execute();
}

export async function wasDelivered(trx: TenantTransaction, tenantId: string, endpointId: string, eventId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('webhook_deliveries')
    .select('attempt')
    .where('tenant_id', '=', tenantId)
    .where('endpoint_id', '=', endpointId)
    .where('event_id', '=', eventId)
    .where('delivered', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

/** An endpoint's attempts, newest first, before the (at, event, attempt) of a cursor. */
export function listDeliveries(trx: TenantTransaction, tenantId: string, endpointId: string, limit: number, before: { at: Date } | null) {
  let query = trx
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', (join) => join.onRef('e.tenant_id', '=', 'd.tenant_id').onRef('e.event_id', '=', 'd.event_id'))
    .select(['d.event_id', 'e.type', 'd.attempt', 'd.at', 'd.status_code', 'd.error', 'd.duration_ms', 'd.delivered'])
    .where('d.tenant_id', '=', tenantId)
    .where('d.endpoint_id', '=', endpointId);
  if (before) query = query.where('d.at', '<', before.at);
  return query.orderBy('d.at', 'desc').orderBy('d.attempt', 'desc').limit(limit).execute();
}

/** Deliveries of the events a request caused: what an erasure receipt cites. */
export function deliveriesForRequest(trx: TenantTransaction, tenantId: string, requestId: string) {
  return trx
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', (join) => join.onRef('e.tenant_id', '=', 'd.tenant_id').onRef('e.event_id', '=', 'd.event_id'))
    .select(['d.endpoint_id', 'd.event_id', 'e.type', 'd.attempt', 'd.at', 'd.status_code', 'd.delivered'])
    .where('d.tenant_id', '=', tenantId)
    .where('e.request_id', '=', requestId)
    .orderBy('d.at')
    .execute();
}
