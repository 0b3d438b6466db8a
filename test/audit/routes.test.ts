import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { bearer, drainJobs, errorCode, RELAXED_LIMITS } from '../identity/support.js';
import { auditClient, seedChain, seedEntry } from './routes-support.js';
import type { AuditEvent } from './routes-support.js';

const MINUTE_MS = 60_000;

describe('audit log routes', () => {
  const clock = new FakeClock('2026-11-02T09:00:00Z');
  let t: TestApp;
  let audit: ReturnType<typeof auditClient>;

  beforeAll(async () => {
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_AUDIT_CHECKPOINT_EVERY: '5', RAMPART_AUDIT_CHECKPOINT_MINUTES: '10' }, { clock });
    audit = auditClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('writes a host event with an audit:write key and lists it in the API shape', async () => {
    const org = await audit.orgWithKeys();
    const written = await audit.write(org.writer, org.id, {
      action: 'invoice.paid',
      actor: { type: 'user', id: 'host-user-42' },
      target: { type: 'invoice', id: 'inv_2026_001' },
      metadata: { amount_cents: 129900, currency: 'EUR' },
    });
    expect(written).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      seq: expect.any(Number),
      at: clock.now().toISOString(),
      action: 'invoice.paid',
      actor: { type: 'user', id: 'host-user-42' },
      target: { type: 'invoice', id: 'inv_2026_001' },
      ip: expect.any(String),
      user_agent: expect.any(String),
      metadata: { amount_cents: 129900, currency: 'EUR' },
      prev_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const page = await audit.list(org.member.token, org.id);
    expect(page.data[0]).toEqual(written);
    expect(page.data.map((event) => event.seq)).toEqual([...page.data.map((event) => event.seq)].sort((a, b) => b - a));

    // Without an actor, the key that wrote the event is the actor.
    const byKey = await audit.write(org.writer, org.id, { action: 'invoice.voided' });
    expect(byKey.actor.type).toBe('api_key');
    expect(byKey.target).toBeNull();
    expect(byKey.prev_hash).toBe(written.hash);
  });

  it('filters by action (exact and prefix), actor, target and time', async () => {
    const org = await audit.orgWithKeys();
    const write = (action: string, actor: string, target: string) => audit.write(org.writer, org.id, { action, actor: { type: 'user', id: actor }, target: { type: 'doc', id: target } });
    await write('report.created', 'ann', 'r1');
    clock.advance(MINUTE_MS);
    const middle = clock.now().toISOString();
    await write('report.signed', 'bob', 'r1');
    await write('report_template.created', 'ann', 't1');
    clock.advance(MINUTE_MS);
    await write('reports.exported', 'bob', 'r2');
    const until = clock.now().toISOString();
    clock.advance(MINUTE_MS);
    await write('report.archived', 'ann', 'r2');

    const actions = async (query: Record<string, string>) => (await audit.list(org.owner.token, org.id, query)).data.map((event) => event.action);
    expect(await actions({ action: 'report.signed' })).toEqual(['report.signed']);
    // The prefix is a whole segment: neither report_template.* nor reports.* match report.*.
    expect(await actions({ action: 'report.*' })).toEqual(['report.archived', 'report.signed', 'report.created']);
    expect(await actions({ action: 'report_template.*' })).toEqual(['report_template.created']);
    expect(await actions({ actor_id: 'bob' })).toEqual(['reports.exported', 'report.signed']);
    expect(await actions({ target_id: 'r2' })).toEqual(['report.archived', 'reports.exported']);
    expect(await actions({ since: middle, until })).toEqual(['report_template.created', 'report.signed']);
    expect(await actions({ action: 'report.*', actor_id: 'ann', since: middle })).toEqual(['report.archived']);
    expect(await actions({ action: 'nothing.here' })).toEqual([]);
  });

  it('finds entries whose time is slightly out of seq order (taken before waiting for the chain lock)', async () => {
    const org = await audit.orgWithKeys();
    const start = clock.now().getTime() + 60 * MINUTE_MS;
    // seq order: +0, +2, +1, +3 minutes, as two appends that waited on each other may leave them.
    const minutes = [0, 2, 1, 3];
    await seedChain(t, org.id, minutes.length, (index) => seedEntry(index, new Date(start + minutes[index]! * MINUTE_MS), { action: 'skew.test' }));
    const at = (minute: number) => new Date(start + minute * MINUTE_MS).toISOString();
    const found = async (query: Record<string, string>) => (await audit.list(org.reader, org.id, { action: 'skew.test', ...query })).data.map((event) => event.metadata.index);
    expect(await found({ since: at(1) })).toEqual([3, 2, 1]);
    expect(await found({ until: at(2) })).toEqual([2, 0]);
    expect(await found({ since: at(1), until: at(3) })).toEqual([2, 1]);
  });

  it('pages newest first without duplicates or gaps while new events arrive', async () => {
    const org = await audit.orgWithKeys();
    for (let index = 0; index < 7; index++) await audit.write(org.writer, org.id, { action: 'page.item', metadata: { index } });
    const seen: AuditEvent[] = [];
    let cursor: string | null = null;
    let added = 0;
    do {
      const page = await audit.list(org.member.token, org.id, { action: 'page.item', limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.data);
      cursor = page.next_cursor;
      // Appends between pages land before the first page, never inside the walk.
      if (added++ < 2) await audit.write(org.writer, org.id, { action: 'page.item', metadata: { late: added } });
    } while (cursor);
    expect(seen.map((event) => event.metadata.index)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    const seqs = seen.map((event) => event.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('answers 404 to strangers and for other orgs, and a foreign cursor reveals nothing', async () => {
    const [mine, theirs] = await Promise.all([audit.orgWithKeys(), audit.orgWithKeys()]);
    await audit.write(theirs.writer, theirs.id, { action: 'secret.thing', metadata: { note: 'theirs' } });
    const stranger = await audit.user();
    for (const path of ['audit', 'audit/verify', 'audit/checkpoints', 'audit/export', 'audit/proofs/inclusion?seq=0&size=1']) {
      const response = await audit.get(stranger.token, `/v1/orgs/${theirs.id}/${path}`);
      expect(response.statusCode, path).toBe(404);
      expect(errorCode(response)).toBe('not_found');
    }
    // My key, their org: the key is unknown there (refused as unauthenticated there, whatever it is here).
    for (const response of [await audit.get(mine.reader, `/v1/orgs/${theirs.id}/audit`), await audit.post(mine.writer, theirs.id, { action: 'secret.forged' })]) {
      expect([401, 404]).toContain(response.statusCode);
      expect(response.body).not.toContain('secret');
    }
    expect((await audit.get(mine.owner.token, '/v1/orgs/not-a-uuid/audit')).statusCode).toBe(404);

    // A cursor from their org is only a position: my org's query shows my own events.
    const theirPage = await audit.list(theirs.owner.token, theirs.id, { limit: 1 });
    const mineWithTheirCursor = await audit.list(mine.owner.token, mine.id, { cursor: theirPage.next_cursor! });
    expect(JSON.stringify(mineWithTheirCursor)).not.toContain('secret.thing');
    expect(mineWithTheirCursor.data.every((event) => !event.action.startsWith('secret.'))).toBe(true);
  });

  it('checks permissions: audit:write keys only write, audit:read keys only read, people never write', async () => {
    const org = await audit.orgWithKeys();
    const forbidden = async (response: Promise<{ statusCode: number; json: <T>() => T }>) => {
      const settled = await response;
      expect(settled.statusCode).toBe(403);
      expect(settled.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    };
    await forbidden(audit.get(org.writer, `/v1/orgs/${org.id}/audit`));
    await forbidden(audit.get(org.writer, `/v1/orgs/${org.id}/audit/export`));
    await forbidden(audit.post(org.reader, org.id, { action: 'invoice.paid' }));
    // Even an owner, who holds audit:write, writes host events only through a key.
    await forbidden(audit.post(org.owner.token, org.id, { action: 'invoice.paid' }));
    const members = await audit.issue(org.admin, org.id, { name: 'directory sync', scopes: ['members:read'] });
    await forbidden(audit.get(members.key, `/v1/orgs/${org.id}/audit`));
    expect((await audit.get(org.reader, `/v1/orgs/${org.id}/audit`)).statusCode).toBe(200);
  });

  it('refuses bad host events with a clear 4xx and records nothing', async () => {
    const org = await audit.orgWithKeys();
    const before = (await audit.list(org.owner.token, org.id)).data.length;
    const refused = async (body: Record<string, unknown>, status: number, code: string) => {
      const response = await audit.post(org.writer, org.id, body);
      expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(errorCode(response)).toBe(code);
    };
    await refused({ action: 'Invoice.Paid' }, 400, 'invalid_request');
    await refused({ action: 'invoice' }, 400, 'invalid_request');
    await refused({ action: 'a.b.c.d.e.f' }, 400, 'invalid_request');
    await refused({ action: 'invoice..paid' }, 400, 'invalid_request');
    await refused({ action: 'member.added' }, 400, 'reserved_action');
    await refused({ action: 'auth.login.succeeded' }, 400, 'reserved_action');
    await refused({ action: 'audit.exported' }, 400, 'reserved_action');
    await refused({ action: 'invoice.paid', metadata: { blob: 'x'.repeat(8 * 1024) } }, 413, 'metadata_too_large');
    await refused({ action: 'invoice.paid', metadata: { text: 'nul\u0000byte' } }, 400, 'invalid_metadata');
    await refused({ action: 'invoice.paid', metadata: ['not', 'an', 'object'] }, 400, 'invalid_request');
    await refused({ action: 'invoice.paid', extra: true }, 400, 'invalid_request');
    await refused({ action: 'invoice.paid', actor: { type: 'api_key', id: 'forged' } }, 400, 'invalid_request');
    await refused({ action: 'invoice.paid', actor: { type: 'user', id: 'x', role: 'owner' } }, 400, 'invalid_request');
    await refused({ action: 'invoice.paid', target: { type: 'Invoice', id: '1' } }, 400, 'invalid_request');
    await refused({ action: 'invoice.paid', target: { type: 'invoice', id: 'line\nbreak' } }, 400, 'invalid_request');
    expect((await audit.list(org.owner.token, org.id)).data).toHaveLength(before);

    const list = (query: string) => audit.get(org.owner.token, `/v1/orgs/${org.id}/audit?${query}`);
    for (const query of ['limit=0', 'limit=201', 'cursor=bm9wZQ', 'cursor=c2VxOi0x', 'since=yesterday', 'action=member.%25', 'colour=red']) {
      const response = await list(query);
      expect(response.statusCode, query).toBe(400);
      expect(errorCode(response)).toBe('invalid_request');
    }
  });

  it('appends 200 concurrent events into one gapless chain that verifies', async () => {
    const org = await audit.orgWithKeys();
    const responses = await Promise.all(Array.from({ length: 200 }, (_, index) => audit.post(org.writer, org.id, { action: 'burst.event', metadata: { index } })));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(200).fill(201));
    const seqs = responses.map((response) => response.json<AuditEvent>().seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, index) => seqs[0]! + index));
    const verified = await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/verify`);
    expect(verified.statusCode).toBe(200);
    const result = verified.json<{ valid: boolean; entries: number; head: { seq: number; hash: string } }>();
    expect(result.valid, verified.body).toBe(true);
    expect(result.head.seq).toBe(seqs[199]);
    expect(result.entries).toBe(result.head.seq + 1);
  });

  it('signs checkpoints every N entries or T minutes, once per size, and publishes the key', async () => {
    const org = await audit.orgWithKeys();
    const runJob = async () => {
      clock.advance(MINUTE_MS);
      await drainJobs(t);
    };
    // Through the read key: the fake clock outruns a person's access token here.
    const checkpoints = async () =>
      (await audit.get(org.reader, `/v1/orgs/${org.id}/audit/checkpoints`)).json<{ data: Array<{ size: number; root: string; time: string; signature: string; key_id: string }> }>().data;
    await audit.write(org.writer, org.id, { action: 'cp.zero' });
    await runJob();
    const first = await checkpoints();
    expect(first).toHaveLength(1);
    const size = first[0]!.size;

    // Fewer than N new entries and less than T minutes: not due.
    await audit.write(org.writer, org.id, { action: 'cp.one' });
    await runJob();
    expect(await checkpoints()).toHaveLength(1);
    // N entries since the last checkpoint: due at the next run.
    for (let index = 0; index < 4; index++) await audit.write(org.writer, org.id, { action: 'cp.more' });
    await runJob();
    expect((await checkpoints()).map((checkpoint) => checkpoint.size)).toEqual([size + 5, size]);
    // One entry, then T minutes.
    await audit.write(org.writer, org.id, { action: 'cp.late' });
    clock.advance(9 * MINUTE_MS);
    await runJob();
    expect((await checkpoints()).map((checkpoint) => checkpoint.size)).toEqual([size + 6, size + 5, size]);
    // Nothing new: nothing signed, however long it waits.
    clock.advance(60 * MINUTE_MS);
    await runJob();
    expect(await checkpoints()).toHaveLength(3);

    const page = await audit.get(org.reader, `/v1/orgs/${org.id}/audit/checkpoints?limit=2`);
    const next = page.json<{ next_cursor: string }>().next_cursor;
    const rest = await audit.get(org.reader, `/v1/orgs/${org.id}/audit/checkpoints?limit=2&cursor=${next}`);
    expect(rest.json<{ data: Array<{ size: number }> }>().data.map((checkpoint) => checkpoint.size)).toEqual([size]);

    const keys = await t.app.inject({ method: 'GET', url: '/v1/audit/keys' });
    expect(keys.statusCode).toBe(200);
    const published = keys.json<{ keys: Array<{ kid: string; crv: string }> }>().keys;
    expect(published.map((key) => key.kid)).toContain(first[0]!.key_id);
    // Not an access-token key: the JWKS and the audit keys never overlap.
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: Array<{ kid: string }> }>().keys;
    expect(jwks.map((key) => key.kid)).not.toContain(first[0]!.key_id);
  });

  it('describes every audit route in the OpenAPI document', async () => {
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    for (const path of ['', '/events', '/export', '/verify', '/checkpoints', '/proofs/inclusion', '/proofs/consistency']) {
      expect(Object.keys(spec.paths), path).toContain(`/v1/orgs/{org}/audit${path}`);
    }
    expect(Object.keys(spec.paths['/v1/orgs/{org}/audit/events']!)).toEqual(['post']);
    expect(spec.paths['/v1/audit/keys']).toBeDefined();
  });

  it('refuses the routes to a member when the plan switches audit:read off', async () => {
    const gated = await createTestApp({ ...RELAXED_LIMITS, RAMPART_PLANS: JSON.stringify({ free: { disabled: ['audit:read', 'org:export'] } }) });
    try {
      const client = auditClient(gated);
      const org = await client.org();
      await seedChain(gated, org.id, 2, (index) => seedEntry(index, new Date()));
      for (const path of ['audit', 'audit/verify', 'audit/export', 'audit/checkpoints']) {
        const response = await client.get(org.member.token, `/v1/orgs/${org.id}/${path}`);
        expect(response.statusCode, path).toBe(403);
        expect(errorCode(response)).toBe('forbidden');
      }
      expect((await gated.app.inject({ method: 'GET', url: `/v1/orgs/${org.id}/audit`, headers: bearer(org.owner.token) })).statusCode).toBe(403);
    } finally {
      await gated.close();
    }
  });
});
