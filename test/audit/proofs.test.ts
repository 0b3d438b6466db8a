import type { JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { checkProofDocument } from '../../src/audit/proof-document.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { drainJobs, errorCode, RELAXED_LIMITS } from '../identity/support.js';
import { auditClient, seedChain, seedEntry } from './routes-support.js';

interface CheckpointDoc {
  size: number;
  root: string;
  time: string;
  signature: string;
  key_id: string;
}
interface InclusionDoc {
  type: 'inclusion';
  tenant: string;
  seq: number;
  size: number;
  entry_hash: string;
  proof: string[];
  checkpoint: CheckpointDoc;
}
interface ConsistencyDoc {
  type: 'consistency';
  tenant: string;
  from: CheckpointDoc;
  to: CheckpointDoc;
  proof: string[];
}

const hex = (value: string) => Buffer.from(value, 'hex');

describe('audit proofs', () => {
  const clock = new FakeClock('2026-11-03T10:00:00Z');
  let t: TestApp;
  let audit: ReturnType<typeof auditClient>;

  beforeAll(async () => {
    // Every run of the job signs every chain that grew: the tests choose the checkpoint sizes.
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_AUDIT_CHECKPOINT_EVERY: '1' }, { clock });
    audit = auditClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  async function checkpointNow(): Promise<void> {
    clock.advance(60_000);
    await drainJobs(t);
  }

  /** An org whose chain has signed checkpoints at each of `sizes` (seeded past whatever it already holds). */
  async function orgWithCheckpoints(sizes: number[]) {
    const org = await audit.org();
    // Rampart's own entries (the org's creation) may already be in the chain.
    let current = ((await audit.list(org.owner.token, org.id, { limit: 1 })).data[0]?.seq ?? -1) + 1;
    for (const size of sizes) {
      expect(size).toBeGreaterThan(current);
      await seedChain(t, org.id, size - current, (index) => seedEntry(index, clock.now()));
      await checkpointNow();
      current = size;
    }
    const listed = (await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/checkpoints?limit=200`)).json<{ data: CheckpointDoc[] }>().data;
    return { org, checkpoints: listed.reverse() };
  }

  async function publishedKeys(): Promise<JsonWebKey[]> {
    return (await t.app.inject({ method: 'GET', url: '/v1/audit/keys' })).json<{ keys: JsonWebKey[] }>().keys;
  }

  it('proves every entry is included in signed checkpoints of several sizes', async () => {
    const { org, checkpoints } = await orgWithCheckpoints([3, 6, 13, 32]);
    const keys = await publishedKeys();
    const entries = (await audit.list(org.owner.token, org.id, { limit: 200 })).data;
    const hashOf = new Map(entries.map((event) => [event.seq, event.hash]));
    for (const checkpoint of checkpoints) {
      for (let seq = 0; seq < checkpoint.size; seq++) {
        const response = await audit.get(org.member.token, `/v1/orgs/${org.id}/audit/proofs/inclusion?seq=${seq}&size=${checkpoint.size}`);
        expect(response.statusCode, response.body).toBe(200);
        const doc = response.json<InclusionDoc>();
        expect(doc).toMatchObject({ type: 'inclusion', tenant: org.id, seq, size: checkpoint.size, entry_hash: hashOf.get(seq), checkpoint });
        expect(verifyInclusion(seq, checkpoint.size, leafHash(hex(doc.entry_hash)), doc.proof.map(hex), hex(checkpoint.root))).toBe(true);
        expect(checkProofDocument(doc, keys)).toEqual({ valid: true });
      }
    }
  });

  it('proves the log was only appended to between any two checkpoints', async () => {
    const { org, checkpoints } = await orgWithCheckpoints([3, 4, 8, 11, 20]);
    const keys = await publishedKeys();
    for (const older of checkpoints) {
      for (const newer of checkpoints.filter((candidate) => candidate.size >= older.size)) {
        const response = await audit.get(org.member.token, `/v1/orgs/${org.id}/audit/proofs/consistency?from=${older.size}&to=${newer.size}`);
        expect(response.statusCode, response.body).toBe(200);
        const doc = response.json<ConsistencyDoc>();
        expect(doc).toMatchObject({ type: 'consistency', tenant: org.id, from: older, to: newer });
        expect(verifyConsistency(older.size, newer.size, doc.proof.map(hex), hex(older.root), hex(newer.root))).toBe(true);
        expect(checkProofDocument(doc, keys)).toEqual({ valid: true });
      }
    }
  });

  it('fails the offline check when a document is altered or signed by an unknown key', async () => {
    const { org, checkpoints } = await orgWithCheckpoints([5, 9]);
    const keys = await publishedKeys();
    const doc = (await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/proofs/inclusion?seq=2&size=9`)).json<InclusionDoc>();
    const otherEntry = { ...doc, entry_hash: (await audit.list(org.owner.token, org.id, { limit: 200 })).data.find((event) => event.seq === 3)!.hash };
    expect(checkProofDocument(otherEntry, keys).valid).toBe(false);
    expect(checkProofDocument({ ...doc, checkpoint: { ...doc.checkpoint, time: '2030-01-01T00:00:00.000Z' } }, keys).valid).toBe(false);
    expect(checkProofDocument(doc, []).valid).toBe(false);
    const consistency = (await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/proofs/consistency?from=5&to=9`)).json<ConsistencyDoc>();
    expect(checkProofDocument({ ...consistency, to: { ...consistency.to, root: checkpoints[0]!.root } }, keys).valid).toBe(false);
  });

  it('answers 400 for sizes without a checkpoint and for impossible ranges, 404 for other orgs', async () => {
    const { org } = await orgWithCheckpoints([4, 7]);
    const other = await audit.org();
    const ask = (token: string, id: string, query: string) => audit.get(token, `/v1/orgs/${id}/audit/proofs/${query}`);
    const expectError = async (query: string, status: number, code: string) => {
      const response = await ask(org.owner.token, org.id, query);
      expect(response.statusCode, query).toBe(status);
      expect(errorCode(response), query).toBe(code);
    };
    await expectError('inclusion?seq=1&size=5', 400, 'no_checkpoint');
    await expectError('inclusion?seq=7&size=7', 400, 'bad_range');
    await expectError('inclusion?seq=-1&size=7', 400, 'invalid_request');
    await expectError('inclusion?seq=1', 400, 'invalid_request');
    await expectError('consistency?from=7&to=4', 400, 'bad_range');
    await expectError('consistency?from=4&to=6', 400, 'no_checkpoint');
    // The other org's owner asks about this org: 404, whatever the sizes.
    expect((await ask(other.owner.token, org.id, 'inclusion?seq=1&size=4')).statusCode).toBe(404);
    // And in their own org, this org's checkpoints do not exist.
    const theirs = await ask(other.owner.token, other.id, 'inclusion?seq=1&size=4');
    expect(theirs.statusCode).toBe(400);
    expect(errorCode(theirs)).toBe('no_checkpoint');
  });
});
