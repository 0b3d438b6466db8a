/**
 * Erasure end to end: the subject is unreadable at once, the host application is told by a signed
 * webhook (its endpoint down, then up), confirms, and after the grace period the job deletes rows
 * and files, destroys the keys and issues a receipt that verifies with the published key. The job
 * survives a crash midway and a second run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { AUDIT_ACTIONS, isSecurityAction } from '../../src/audit/actions.js';
import { withTenant } from '../../src/platform/db/index.js';
import { verifyReceipt } from '../../src/privacy/dsr/index.js';
import { verifySignature } from '../../src/webhooks/index.js';
import { FakeClock } from '../helpers/clock.js';
import { errorCode } from '../identity/support.js';
import { dsrClient, startReceiver, usePrivacyApp } from './dsr-support.js';

const DAY = 86_400_000;
const clock = new FakeClock('2026-04-01T08:00:00Z');
const ctx = usePrivacyApp({}, { clock });
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => receiver.close());

async function ledgerEntries(orgId: string, requestId: string) {
  return withTenant(ctx.t.db.database.db, orgId, (trx) => trx.selectFrom('erasure_ledger').selectAll().where('tenant_id', '=', orgId).where('request_id', '=', requestId).execute());
}

async function blobIds(orgId: string) {
  return withTenant(ctx.t.db.database.db, orgId, async (trx) => (await trx.selectFrom('vault_files').select(['file_key', 'blob_id']).where('tenant_id', '=', orgId).execute()));
}

describe('erasure requests', () => {
  it('hides the subject at once, tells the host by signed webhook until it answers, and issues a verifiable receipt after the grace period', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace(1);
    const key = await api.key(org, ['dsr:read', 'dsr:write', 'records:read', 'records:write', 'audit:read']);
    const subject = 'guest-erase-1';
    for (const [collection, record] of [['guests', 'g1'], ['guests', 'g2'], ['guests', 'g3'], ['bookings', 'b1'], ['bookings', 'b2']] as const) {
      expect((await api.put(key, org.id, collection, record, { data: { name: 'Ada' }, subject_id: subject, category: 'contact' })).statusCode).toBe(201);
    }
    expect((await api.put(key, org.id, 'guests', 'other', { data: { name: 'Bob' }, subject_id: 'someone-else' })).statusCode).toBe(201);
    expect((await api.putFile(key, org.id, 'passport.pdf', Buffer.from('%PDF scan'), { 'x-rampart-subject-id': subject })).statusCode).toBe(201);
    const blob = (await blobIds(org.id))[0]!.blob_id;

    const hook = await api.call(org.owner.token, 'POST', `/v1/orgs/${org.id}/webhooks`, { url: receiver.url, events: ['dsr.erasure_requested'] });
    expect(hook.statusCode, hook.body).toBe(201);
    const { id: endpointId, secret } = hook.json<{ id: string; secret: string }>();
    receiver.respondWith(503);

    const request = await api.request(org.owner.token, org.id, { type: 'erasure', subject_id: subject });
    expect(request.status).toBe('in_progress');

    // At once: records and files answer 404 and drop out of lists; others are untouched.
    expect((await api.get(key, org.id, 'guests', 'g1')).statusCode).toBe(404);
    expect((await api.getFile(key, org.id, 'passport.pdf')).statusCode).toBe(404);
    expect((await api.list(key, org.id, 'guests')).json<{ data: Array<{ key: string }> }>().data.map((record) => record.key)).toEqual(['other']);
    expect((await api.list(key, org.id, 'guests', `?subject_id=${subject}`)).json<{ data: unknown[] }>().data).toEqual([]);
    expect((await api.get(key, org.id, 'guests', 'other')).statusCode).toBe(200);
    // And nothing new is written for them while the erasure runs.
    const write = await api.put(key, org.id, 'guests', 'g9', { data: { name: 'Ada' }, subject_id: subject });
    expect(write.statusCode).toBe(403);
    expect(errorCode(write)).toBe('processing_restricted');

    // The endpoint is down: the attempt is logged, and retried with backoff until it answers.
    await api.runJobs();
    receiver.respondWith(200);
    clock.advance(10 * 60_000);
    await api.runJobs();
    expect(receiver.received).toHaveLength(2);
    const [failed, delivered] = receiver.received as [(typeof receiver.received)[0], (typeof receiver.received)[0]];
    expect(failed.headers['rampart-event-id']).toBe(delivered.headers['rampart-event-id']);
    const signature = String(delivered.headers['rampart-signature']);
    const sentAt = Number(/t=(\d+)/.exec(signature)![1]);
    expect(verifySignature(secret, signature, delivered.body, sentAt)).toBe(true);
    expect(verifySignature(secret, signature, delivered.body.replace('erase', 'erasX'), sentAt)).toBe(false);
    expect(verifySignature('whsec_wrong', signature, delivered.body, sentAt)).toBe(false);
    expect(verifySignature(secret, signature, delivered.body, sentAt + 3600)).toBe(false);
    const event = JSON.parse(delivered.body) as { id: string; type: string; org_id: string; data: Record<string, unknown> };
    expect(event).toMatchObject({ type: 'dsr.erasure_requested', org_id: org.id, data: { request_id: request.id, subject_id: subject } });
    expect(event.id).toBe(delivered.headers['rampart-event-id']);

    const attempts = await api.call(org.owner.token, 'GET', `/v1/orgs/${org.id}/webhooks/${endpointId}/deliveries`);
    expect(attempts.json<{ data: Array<{ attempt: number; status_code: number; delivered: boolean }> }>().data.map(({ attempt, status_code, delivered: ok }) => ({ attempt, status_code, delivered: ok }))).toEqual([
      { attempt: 2, status_code: 200, delivered: true },
      { attempt: 1, status_code: 503, delivered: false },
    ]);
    expect(attempts.body).not.toContain(secret);
    // Delivered: later runs send it no more.
    clock.advance(60 * 60_000);
    await api.runJobs();
    expect(receiver.received).toHaveLength(2);

    const confirmed = await api.confirm(key, org.id, request.id);
    expect(confirmed.statusCode).toBe(201);
    expect((await api.receipt(key, org.id, request.id)).statusCode).toBe(409);

    clock.advance(DAY);
    await api.runJobs();
    const done = (await api.getRequest(key, org.id, request.id)).json<{ status: string; history: Array<{ event: string }> }>();
    expect(done.status).toBe('completed');
    expect(done.history.map((entry) => entry.event)).toEqual(['received', 'subject_flagged', 'in_progress', 'erasure_confirmed', 'erasure_started', 'keys_destroyed', 'completed']);

    // Gone from the database and the file store; the key is destroyed and the ledger has one entry.
    const remaining = await withTenant(ctx.t.db.database.db, org.id, (trx) => trx.selectFrom('vault_records').select('record_key').where('tenant_id', '=', org.id).execute());
    expect(remaining.map((row) => row.record_key)).toEqual(['other']);
    expect(await blobIds(org.id)).toEqual([]);
    expect(existsSync(join(ctx.fileDir, org.id, blob))).toBe(false);
    const ledger = await ledgerEntries(org.id, request.id);
    expect(ledger).toHaveLength(1);

    const { receipt, signature: jws } = (await api.receipt(key, org.id, request.id)).json<{ receipt: Record<string, unknown>; signature: string }>();
    const keys = (await ctx.t.app.inject({ method: 'GET', url: '/.well-known/rampart-receipt-keys.json' })).json<{ keys: Array<Record<string, unknown>> }>().keys;
    const publicKey = keys.find((candidate) => candidate.kid === (receipt.signer as { kid: string }).kid)!;
    const verified = await verifyReceipt(jws, publicKey);
    expect(verified).toEqual(receipt);
    expect(verified).toMatchObject({
      format: 'rampart-erasure-receipt/1',
      org_id: org.id,
      request: { id: request.id },
      subject: { blind_index: ctx.t.app.vault.subjectIndex(org.id, subject).toString('hex') },
      erased: { records: { bookings: 2, guests: 3 }, record_total: 5, files: 1 },
      keys: { ledger_entry: { id: ledger[0]!.entry_id } },
    });
    expect(verified.keys.data_keys_destroyed).toBeGreaterThanOrEqual(1);
    expect(verified.webhooks.deliveries.map((delivery) => delivery.status_code)).toEqual([503, 200]);
    expect(verified.webhooks.confirmations).toHaveLength(1);
    // A receipt altered after signing no longer verifies.
    const [header, payload, sig] = jws.split('.') as [string, string, string];
    const forged = Buffer.from(Buffer.from(payload, 'base64url').toString('utf8').replace('"files":1', '"files":0')).toString('base64url');
    await expect(verifyReceipt(`${header}.${forged}.${sig}`, publicKey)).rejects.toThrow();

    // The chain still verifies after the erasure.
    const verify = await api.call(key, 'GET', `/v1/orgs/${org.id}/audit/verify`);
    expect(verify.json()).toMatchObject({ valid: true });

    // Every entry the requests wrote has the metadata its catalogue entry describes, and no subject id in it.
    const logged = (await api.call(key, 'GET', `/v1/orgs/${org.id}/audit?limit=100`)).json<{ data: Array<{ action: string; metadata: Record<string, unknown> }> }>().data;
    const privacy = logged.filter((entry) => /^(dsr|subject|webhook)\./.test(entry.action));
    expect(new Set(privacy.map((entry) => entry.action))).toEqual(new Set(['dsr.created', 'dsr.subject_flagged', 'dsr.erasure_confirmed', 'dsr.erasure_completed', 'dsr.status_changed', 'webhook.endpoint_created']));
    for (const entry of privacy) {
      expect(isSecurityAction(entry.action)).toBe(true);
      expect(Value.Check(AUDIT_ACTIONS[entry.action as keyof typeof AUDIT_ACTIONS].metadata, entry.metadata), entry.action).toBe(true);
      expect(JSON.stringify(entry.metadata)).not.toContain(subject);
    }

    // A second run of the job changes nothing.
    await ctx.t.app.jobs.handlerFor('dsr.erase')!({ id: 0, name: 'dsr.erase', payload: { tenantId: org.id, requestId: request.id }, attempt: 1, idempotencyKey: null });
    expect(await ledgerEntries(org.id, request.id)).toHaveLength(1);
    // The subject can come back later as someone new, under a new key.
    expect((await api.put(key, org.id, 'guests', 'g1', { data: { name: 'Ada again' }, subject_id: subject })).statusCode).toBe(201);
  });

  it('resumes after a crash midway through the job and still lists everything in the receipt', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace(0);
    const key = await api.key(org, ['dsr:read', 'dsr:write', 'records:write']);
    const subject = 'guest-crash-1';
    for (const record of ['c1', 'c2', 'c3']) await api.put(key, org.id, 'guests', record, { data: { n: record }, subject_id: subject });
    for (const file of ['a.pdf', 'boom.pdf']) await api.putFile(key, org.id, file, Buffer.from(file), { 'x-rampart-subject-id': subject });

    // The database fails the job while it deletes files: records are gone, one blob too, rows stay.
    const db = ctx.t.db.database.db;
    await sql`create function test_boom() returns trigger language plpgsql as $$ begin if old.file_key = 'boom.pdf' then raise exception 'simulated crash'; end if; return old; end $$`.execute(db);
    await sql`create trigger test_boom before delete on vault_files for each row execute function test_boom()`.execute(db);
    const request = await api.request(key, org.id, { type: 'erasure', subject_id: subject });
    try {
      await api.runJobs();
      const midway = (await api.getRequest(key, org.id, request.id)).json<{ status: string }>();
      expect(midway.status).toBe('in_progress');
      expect(await ledgerEntries(org.id, request.id)).toHaveLength(0);
    } finally {
      await sql`drop trigger test_boom on vault_files`.execute(db);
      await sql`drop function test_boom()`.execute(db);
    }

    clock.advance(2 * 60 * 60_000);
    await api.runJobs();
    const { receipt } = (await api.receipt(key, org.id, request.id)).json<{ receipt: { erased: { records: Record<string, number>; files: number } } }>();
    expect(receipt.erased).toMatchObject({ records: { guests: 3 }, files: 2 });
    expect(await blobIds(org.id)).toEqual([]);
    expect(await ledgerEntries(org.id, request.id)).toHaveLength(1);
  });

  it('lets a rejected erasure lift the flag before the job runs, and answers 409 where a step does not apply', async () => {
    const api = dsrClient(ctx.t);
    const org = await api.orgWithGrace(30);
    const key = await api.key(org, ['dsr:read', 'dsr:write', 'records:read', 'records:write']);
    await api.put(key, org.id, 'guests', 'r1', { data: { n: 1 }, subject_id: 'reject-1' });
    const request = await api.request(key, org.id, { type: 'erasure', subject_id: 'reject-1' });
    expect((await api.get(key, org.id, 'guests', 'r1')).statusCode).toBe(404);
    expect((await api.status(key, org.id, request.id, { status: 'completed' })).statusCode).toBe(409);
    expect((await api.exportOf(key, org.id, request.id)).statusCode).toBe(409);
    // While the erasure is pending the subject is gone from exports too.
    const access = await api.request(key, org.id, { type: 'access', subject_id: 'reject-1' });
    expect((await api.exportOf(key, org.id, access.id)).json<{ records: unknown[] }>().records).toEqual([]);
    const rejected = await api.status(key, org.id, request.id, { status: 'rejected', reason: 'Legal obligation to keep invoices (Art. 17(3)(b))' });
    expect(rejected.statusCode).toBe(200);
    expect((await api.get(key, org.id, 'guests', 'r1')).statusCode).toBe(200);
    clock.advance(31 * DAY);
    await api.runJobs();
    expect((await api.get(key, org.id, 'guests', 'r1')).statusCode).toBe(200);
    expect((await api.receipt(key, org.id, request.id)).statusCode).toBe(409);
    expect((await api.exportOf(key, org.id, access.id)).json<{ records: unknown[] }>().records).toHaveLength(1);
    expect((await api.confirm(key, org.id, access.id)).statusCode).toBe(409);
  });
});
