/**
 * Tampering by someone who got past the database's own guards: a superuser who switches the
 * append-only triggers off (session_replication_role = replica) and edits the log directly. Each
 * kind of edit — a changed entry, a deleted one, two swapped, a forged hash or link, a changed
 * checkpoint, even a tail rewritten with every hash recomputed — must be reported by verification
 * at the right seq. A consistent rewrite is only visible against a signed checkpoint, which is why
 * tenants keep copies of them outside Rampart (docs/security-model.md).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryHash } from '../../src/audit/canonical.js';
import { appendToChains } from '../../src/audit/chain.js';
import { appendLeaf, leafHash } from '../../src/audit/merkle.js';
import { chainedEntryOf, verifyChain } from '../../src/audit/verify.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { RELAXED_LIMITS } from '../identity/support.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';
import { asSuperuserWithoutTriggers, chainEntries, signCheckpoint } from './chain-support.js';
import { seedEntry } from './routes-support.js';

const LENGTH = 20;

describe('tampering with the audit log is found at the right seq', () => {
  let t: TestApp;
  const db = () => t.db.database.db;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
  }, 60_000);
  afterAll(async () => t.close());

  /** A chain of 20 entries with signed checkpoints at sizes 8 and 16 (more when the org had entries before). */
  async function freshChain(tenantId: string = randomUUID()): Promise<string> {
    const before = (await chainEntries(db(), tenantId)).length;
    const append = (from: number, to: number) =>
      appendToChains(db(), [{ tenantId, entries: Array.from({ length: to - from }, (_, index) => seedEntry(from + index, new Date(), { personal: Buffer.from(`{"ip":"192.0.2.${from + index}"}`) })) }]);
    await append(0, 8);
    await signCheckpoint(db(), tenantId);
    await append(8, 16);
    await signCheckpoint(db(), tenantId);
    await append(16, LENGTH);
    expect(await verifyChain(db(), tenantId)).toMatchObject({ valid: true, entries: before + LENGTH });
    return tenantId;
  }

  async function expectInvalidAt(tenantId: string, seq: number) {
    const result = await verifyChain(db(), tenantId);
    expect(result, JSON.stringify(result)).toMatchObject({ valid: false, first_invalid_seq: seq });
    return result;
  }

  const tamper = (work: Parameters<typeof asSuperuserWithoutTriggers>[1]) => asSuperuserWithoutTriggers(db(), work);

  it('a changed entry (metadata, personal data, action, time)', async () => {
    const changes = [
      sql`metadata = '{"index": 999}'`,
      sql`personal = ${Buffer.from('{"ip":"203.0.113.9"}')}`,
      sql`action = 'seed.deleted'`,
      sql`at = at + interval '1 second'`,
    ];
    for (const [index, change] of changes.entries()) {
      const tenantId = await freshChain();
      const seq = 3 + index * 4;
      await tamper((trx) => sql`update audit_entries set ${change} where tenant_id = ${tenantId} and seq = ${seq}`.execute(trx));
      await expectInvalidAt(tenantId, seq);
    }
  });

  it('a deleted entry', async () => {
    const tenantId = await freshChain();
    await tamper((trx) => sql`delete from audit_entries where tenant_id = ${tenantId} and seq = 7`.execute(trx));
    const result = await expectInvalidAt(tenantId, 7);
    expect(result.entries).toBe(7);
  });

  it('two entries swapped (reordered)', async () => {
    const tenantId = await freshChain();
    await tamper(async (trx) => {
      await sql`update audit_entries set seq = 1000000 where tenant_id = ${tenantId} and seq = 3`.execute(trx);
      await sql`update audit_entries set seq = 3 where tenant_id = ${tenantId} and seq = 4`.execute(trx);
      await sql`update audit_entries set seq = 4 where tenant_id = ${tenantId} and seq = 1000000`.execute(trx);
    });
    await expectInvalidAt(tenantId, 3);
  });

  it('a forged hash, a broken link, and a forged Merkle node', async () => {
    for (const [column, seq] of [['hash', 9], ['prev_hash', 11], ['tree_nodes', 15]] as const) {
      const tenantId = await freshChain();
      const value = column === 'tree_nodes' ? sql`array[${Buffer.alloc(32, 1)}::bytea, ${Buffer.alloc(32, 2)}::bytea]` : sql`${Buffer.alloc(32, 1)}::bytea`;
      await tamper((trx) => sql`update audit_entries set ${sql.ref(column)} = ${value} where tenant_id = ${tenantId} and seq = ${seq}`.execute(trx));
      await expectInvalidAt(tenantId, seq);
    }
  });

  it('entries cut off the end', async () => {
    const tenantId = await freshChain();
    await tamper((trx) => sql`delete from audit_entries where tenant_id = ${tenantId} and seq >= 18`.execute(trx));
    await expectInvalidAt(tenantId, 18);
  });

  it('a changed checkpoint: its root, or its signature', async () => {
    const rootChanged = await freshChain();
    await tamper((trx) => sql`update audit_checkpoints set root = ${Buffer.alloc(32, 3)} where tenant_id = ${rootChanged} and size = 16`.execute(trx));
    // The checkpoint at 8 still proves entries 0-7; what changed is somewhere from 8 on.
    expect((await expectInvalidAt(rootChanged, 8)).reason).toMatch(/does not match/);

    const signatureChanged = await freshChain();
    await tamper((trx) => sql`update audit_checkpoints set signature = ${Buffer.alloc(64, 4)} where tenant_id = ${signatureChanged} and size = 8`.execute(trx));
    expect((await expectInvalidAt(signatureChanged, 0)).reason).toMatch(/signature/);
  });

  it('a tail rewritten with every hash, link, node and the head recomputed: caught by the signed checkpoint', async () => {
    const tenantId = await freshChain();
    const rows = await chainEntries(db(), tenantId);
    await tamper(async (trx) => {
      let prev: Buffer = Buffer.from(rows[9]!.hash);
      const head = await trx.selectFrom('audit_heads').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      // Rebuild the frontier up to entry 9 from the stored leaves, then forge from entry 10 on.
      let frontier: Buffer[] = [];
      for (const row of rows.slice(0, 10)) frontier = appendLeaf(frontier, row.seq, leafHash(Buffer.from(row.hash))).frontier;
      for (const row of rows.slice(10)) {
        const metadata = row.seq === 10 ? { index: 'forged' } : (row.metadata as Record<string, unknown>);
        const hash = entryHash({ ...chainedEntryOf(row), metadata, prevHash: prev });
        const grown = appendLeaf(frontier, row.seq, leafHash(hash));
        await trx
          .updateTable('audit_entries')
          .set({ metadata: JSON.stringify(metadata) as never, prev_hash: prev, hash, tree_nodes: grown.completed })
          .where('tenant_id', '=', tenantId)
          .where('seq', '=', row.seq)
          .execute();
        frontier = grown.frontier;
        prev = hash;
      }
      await trx.updateTable('audit_heads').set({ head_hash: prev, frontier }).where('tenant_id', '=', tenantId).execute();
      expect(head.size).toBe(LENGTH);
    });
    const result = await expectInvalidAt(tenantId, 8);
    expect(result.reason).toMatch(/checkpoint at size 16 does not match/);
  });

  it('a chain cut back to before a checkpoint, head and all', async () => {
    const tenantId = await freshChain();
    const rows = await chainEntries(db(), tenantId);
    await tamper(async (trx) => {
      await sql`delete from audit_entries where tenant_id = ${tenantId} and seq >= 12`.execute(trx);
      let frontier: Buffer[] = [];
      for (const row of rows.slice(0, 12)) frontier = appendLeaf(frontier, row.seq, leafHash(Buffer.from(row.hash))).frontier;
      await trx.updateTable('audit_heads').set({ size: 12, head_hash: Buffer.from(rows[11]!.hash), frontier }).where('tenant_id', '=', tenantId).execute();
    });
    await expectInvalidAt(tenantId, 12);
  });

  it('is reported by GET /v1/orgs/{org}/audit/verify', async () => {
    const org = await apiKeyClient(t).org();
    await freshChain(org.id);
    const rows = await chainEntries(db(), org.id);
    const verify = () => t.app.inject({ method: 'GET', url: `/v1/orgs/${org.id}/audit/verify`, headers: { authorization: `Bearer ${org.owner.token}` } });
    const intact = await verify();
    expect(intact.statusCode, intact.body).toBe(200);
    expect(intact.json()).toEqual({ valid: true, entries: rows.length, head: { seq: rows.length - 1, hash: Buffer.from(rows.at(-1)!.hash).toString('hex') } });
    await tamper((trx) => sql`update audit_entries set metadata = '{"index": -1}' where tenant_id = ${org.id} and seq = 5`.execute(trx));
    const broken = await verify();
    expect(broken.statusCode).toBe(200);
    expect(broken.json()).toMatchObject({ valid: false, first_invalid_seq: 5 });
  });
});
