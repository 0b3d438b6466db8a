/**
 * Webhook endpoints: admins register them (https only in production), the signing secret is shown
 * once and stored sealed, deliveries are listed without bodies or secrets, and nobody else (members,
 * API keys, other tenants) can see or change them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { checkWebhookUrl } from '../../src/webhooks/webhooks.service.js';
import { dsrClient, startReceiver, usePrivacyApp } from '../privacy/dsr-support.js';

const ctx = usePrivacyApp();
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => receiver.close());

describe('webhook endpoints', () => {
  it('registers an endpoint with a secret shown once and stored sealed, lists it without it, and deletes it', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const path = `/v1/orgs/${org.id}/webhooks`;
    const created = await api.call(org.admin.token, 'POST', path, { url: receiver.url });
    expect(created.statusCode, created.body).toBe(201);
    const endpoint = created.json<{ id: string; secret: string; events: string[] }>();
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(endpoint.events).toEqual(['dsr.completed', 'dsr.created', 'dsr.erasure_requested']);
    const list = await api.call(org.admin.token, 'GET', path);
    expect(list.json<{ data: Array<{ id: string }> }>().data.map((row) => row.id)).toEqual([endpoint.id]);
    expect(list.body).not.toContain(endpoint.secret);
    const stored = await withTenant(ctx.t.db.database.db, org.id, (trx) => trx.selectFrom('webhook_endpoints').select('secret_sealed').where('tenant_id', '=', org.id).executeTakeFirstOrThrow());
    expect(Buffer.from(stored.secret_sealed).toString('utf8')).not.toContain(endpoint.secret.slice(6));
    expect(ctx.t.rawLogs()).not.toContain(endpoint.secret);

    expect((await api.call(org.admin.token, 'DELETE', `${path}/${endpoint.id}`)).statusCode).toBe(204);
    expect((await api.call(org.admin.token, 'DELETE', `${path}/${endpoint.id}`)).statusCode).toBe(404);
    expect((await api.call(org.admin.token, 'GET', path)).json<{ data: unknown[] }>().data).toEqual([]);
  });

  it('delivers each event once to each subscribed endpoint, and nothing to a deleted one', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace();
    const path = `/v1/orgs/${org.id}/webhooks`;
    const kept = (await api.call(org.owner.token, 'POST', path, { url: receiver.url, events: ['dsr.created'] })).json<{ id: string }>();
    const dropped = (await api.call(org.owner.token, 'POST', path, { url: `${receiver.url}?dropped`, events: ['dsr.created'] })).json<{ id: string }>();
    const before = receiver.received.length;
    const request = await api.request(org.owner.token, org.id, { type: 'access', subject_id: 'hook-1' });
    await api.call(org.owner.token, 'DELETE', `${path}/${dropped.id}`);
    await api.runJobs();
    await api.runJobs();
    const mine = receiver.received.slice(before);
    expect(mine).toHaveLength(1);
    expect(JSON.parse(mine[0]!.body)).toMatchObject({ type: 'dsr.created', data: { request_id: request.id, type: 'access' } });
    // dsr.created names no subject: only the erasure notice, which the host must act on, does.
    expect(mine[0]!.body).not.toContain('hook-1');
    const deliveries = (await api.call(org.owner.token, 'GET', `${path}/${kept.id}/deliveries`)).json<{ data: Array<{ delivered: boolean; event_type: string }> }>().data;
    expect(deliveries).toEqual([expect.objectContaining({ delivered: true, event_type: 'dsr.created', attempt: 1 })]);
  });

  it('refuses members, API keys and other tenants, and malformed or unsafe URLs', async () => {
    const api = dsrClient(ctx.t);
    const [a, b] = [await api.orgWithGrace(), await api.orgWithGrace()];
    const path = `/v1/orgs/${a.id}/webhooks`;
    const endpoint = (await api.call(a.owner.token, 'POST', path, { url: receiver.url })).json<{ id: string }>();
    expect((await api.call(a.member.token, 'POST', path, { url: receiver.url })).statusCode).toBe(403);
    expect((await api.call(a.member.token, 'GET', path)).statusCode).toBe(403);
    const key = await api.key(a, ['dsr:write', 'dsr:read', 'audit:write']);
    expect((await api.call(key, 'GET', path)).statusCode).toBe(403);
    expect((await api.call(b.owner.token, 'GET', path)).statusCode).toBe(404);
    expect((await api.call(b.owner.token, 'DELETE', `/v1/orgs/${b.id}/webhooks/${endpoint.id}`)).statusCode).toBe(404);
    expect((await api.call(b.owner.token, 'GET', `/v1/orgs/${b.id}/webhooks/${endpoint.id}/deliveries`)).statusCode).toBe(404);
    for (const url of ['ftp://example.com/x', 'http://example.com/hook', 'https://user:pw@example.com/x', 'not a url', 'https://example.com/#frag']) {
      const refused = await api.call(a.owner.token, 'POST', path, { url });
      expect(refused.statusCode, url).toBe(400);
    }
    expect((await api.call(a.owner.token, 'POST', path, { url: receiver.url, events: ['dsr.unknown'] })).statusCode).toBe(400);
    expect((await api.call(a.owner.token, 'POST', path, { url: receiver.url, secret: 'mine' })).statusCode).toBe(400);
    expect((await api.call(a.owner.token, 'DELETE', `${path}/not-a-uuid`)).statusCode).toBe(400);
  });

  it('accepts only https in production, and http only to this machine elsewhere', () => {
    expect(() => checkWebhookUrl('http://127.0.0.1:8080/x', 'production')).toThrow();
    expect(checkWebhookUrl('https://hooks.example.com/x', 'production').protocol).toBe('https:');
    expect(checkWebhookUrl('http://localhost:8080/x', 'development').hostname).toBe('localhost');
    expect(() => checkWebhookUrl('http://10.0.0.5/x', 'staging')).toThrow();
  });
});
