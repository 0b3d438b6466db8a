import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { appendToChains } from '../../src/audit/chain.js';
import type { NewAuditEntry } from '../../src/audit/chain.js';
import type { AuditEventView } from '../../src/audit/query.js';
import type { TestApp } from '../helpers/app.js';
import { bearer } from '../identity/support.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';

/** An entry as the API shows it. */
export type AuditEvent = AuditEventView;

export interface EventPage {
  data: AuditEvent[];
  next_cursor: string | null;
}

/** Orgs, keys and audit requests over app.inject. */
export function auditClient(t: TestApp) {
  const keys = apiKeyClient(t);
  const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });
  return {
    ...keys,
    get,
    /** An org (owner, admin, member) with a key that writes and one that reads. */
    async orgWithKeys() {
      const org = await keys.org();
      const writer = await keys.issue(org.admin, org.id, { name: 'host writer', scopes: ['audit:write'] });
      const reader = await keys.issue(org.admin, org.id, { name: 'host reader', scopes: ['audit:read'] });
      return { ...org, writer: writer.key, reader: reader.key };
    },
    post: (key: string, org: string, body: Record<string, unknown>): Promise<LightMyRequestResponse> =>
      t.app.inject({ method: 'POST', url: `/v1/orgs/${org}/audit/events`, headers: bearer(key), payload: body }),
    /** Writes a host event and expects 201. */
    async write(key: string, org: string, body: Record<string, unknown>): Promise<AuditEvent> {
      const response = await this.post(key, org, body);
      expect(response.statusCode, response.body).toBe(201);
      return response.json<AuditEvent>();
    },
    async list(token: string, org: string, query: Record<string, string | number> = {}): Promise<EventPage> {
      const search = new URLSearchParams(Object.entries(query).map(([name, value]): [string, string] => [name, String(value)]));
      const response = await get(token, `/v1/orgs/${org}/audit?${search}`);
      expect(response.statusCode, response.body).toBe(200);
      return response.json<EventPage>();
    },
  };
}

/** A host-style entry for seeding a chain directly (far faster than HTTP for thousands). */
export function seedEntry(index: number, at: Date, overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    at,
    action: 'seed.created',
    actor: { type: 'system', id: `seeder-${index % 7}` },
    target: { type: 'thing', id: `thing-${index}` },
    requestId: null,
    metadata: { index },
    personal: null,
    subjectId: null,
    ...overrides,
  };
}

/** Appends `count` entries to the org's chain in one transaction. */
export async function seedChain(t: TestApp, tenantId: string, count: number, make: (index: number) => NewAuditEntry = (index) => seedEntry(index, new Date())): Promise<void> {
  await appendToChains(t.db.database.db, [{ tenantId, entries: Array.from({ length: count }, (_, index) => make(index)) }]);
}
