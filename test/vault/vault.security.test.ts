/**
 * Attacks on the vault through the database and the API. Someone who can write to the database
 * (a stolen backup restored elsewhere, a compromised replica, an insider) moves ciphertexts
 * between rows, fields and tenants, or flips bits, hoping Rampart decrypts them in the new place:
 * every such read must fail with a clear 409 `undecryptable`, never a 500 and never the data.
 * Callers without the right role, scope or org, oversized bodies and malformed names are refused
 * before anything is stored.
 */
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { useVaultApp, vaultClient } from './support.js';
import type { Org } from './support.js';

async function sealedOf(t: TestApp, org: Org, key: string) {
  return t.db.database.db.selectFrom('vault_records').select(['data_sealed', 'subject_sealed']).where('tenant_id', '=', org.id).where('record_key', '=', key).executeTakeFirstOrThrow();
}

async function overwrite(t: TestApp, org: Org, key: string, values: { data_sealed?: Buffer; subject_sealed?: Buffer }) {
  await t.db.database.db.updateTable('vault_records').set(values).where('tenant_id', '=', org.id).where('record_key', '=', key).execute();
}

describe('vault records under attack', () => {
  const state = useVaultApp();

  it('refuses a ciphertext moved to another record, another field or another tenant, and a flipped bit', async () => {
    const api = vaultClient(state.t);
    const [org, other] = [await api.org(), await api.org()];
    for (const key of ['a', 'b', 'c', 'd']) {
      expect((await api.put(org.admin.token, org.id, 'people', key, { data: { key }, subject_id: 'subject-x' })).statusCode).toBe(201);
    }
    expect((await api.put(other.admin.token, other.id, 'people', 'a', { data: { other: true }, subject_id: 'subject-x' })).statusCode).toBe(201);
    const a = await sealedOf(state.t, org, 'a');

    await overwrite(state.t, org, 'b', { data_sealed: a.data_sealed });
    await overwrite(state.t, org, 'c', { subject_sealed: a.data_sealed });
    const flipped = Buffer.from(a.data_sealed);
    flipped[flipped.length - 20]! ^= 1;
    await overwrite(state.t, org, 'd', { data_sealed: flipped });
    await state.t.db.database.db.updateTable('vault_records').set({ data_sealed: a.data_sealed }).where('tenant_id', '=', other.id).where('record_key', '=', 'a').execute();

    for (const [token, orgId, key] of [
      [org.admin.token, org.id, 'b'],
      [org.admin.token, org.id, 'c'],
      [org.admin.token, org.id, 'd'],
      [other.admin.token, other.id, 'a'],
    ] as const) {
      const response = await api.get(token, orgId, 'people', key);
      expect(response.statusCode, `${key}: ${response.body}`).toBe(409);
      expect(response.json()).toMatchObject({ error: { code: 'undecryptable' } });
      expect(response.body).not.toContain('subject-x');
    }
    // The original is untouched and still reads.
    expect((await api.get(org.admin.token, org.id, 'people', 'a')).json()).toMatchObject({ data: { key: 'a' }, subject_id: 'subject-x' });
  });

  it("answers 404 for another org's records, whoever asks", async () => {
    const api = vaultClient(state.t);
    const [org, other] = [await api.org(), await api.org()];
    await api.put(org.admin.token, org.id, 'people', 'p1', { data: { x: 1 } });
    expect((await api.get(other.owner.token, org.id, 'people', 'p1')).statusCode).toBe(404);
    expect((await api.put(other.owner.token, org.id, 'people', 'p1', { data: { x: 2 } })).statusCode).toBe(404);
    expect((await api.get(other.owner.token, other.id, 'people', 'p1')).statusCode).toBe(404);
    const otherKey = await api.key(other, ['records:read', 'records:write']);
    expect([401, 404]).toContain((await api.get(otherKey, org.id, 'people', 'p1')).statusCode);
    expect((await api.get(org.member.token, org.id, 'people', 'p1')).json()).toMatchObject({ data: { x: 1 } });
  });

  it('lets members read and admins write; API keys only with the matching scope', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    expect((await api.put(org.member.token, org.id, 'people', 'p', { data: { x: 1 } })).statusCode).toBe(403);
    expect((await api.put(org.admin.token, org.id, 'people', 'p', { data: { x: 1 } })).statusCode).toBe(201);
    expect((await api.get(org.member.token, org.id, 'people', 'p')).statusCode).toBe(200);
    expect((await api.remove(org.member.token, org.id, 'people', 'p')).statusCode).toBe(403);

    const reader = await api.key(org, ['records:read']);
    const writer = await api.key(org, ['records:write']);
    const unrelated = await api.key(org, ['audit:read']);
    expect((await api.get(reader, org.id, 'people', 'p')).statusCode).toBe(200);
    expect((await api.list(reader, org.id, 'people')).statusCode).toBe(200);
    expect((await api.put(reader, org.id, 'people', 'p', { data: { x: 2 } })).statusCode).toBe(403);
    expect((await api.put(writer, org.id, 'people', 'p', { data: { x: 2 } })).statusCode).toBe(200);
    expect((await api.get(writer, org.id, 'people', 'p')).statusCode).toBe(403);
    expect((await api.get(unrelated, org.id, 'people', 'p')).statusCode).toBe(403);
    expect((await api.remove(unrelated, org.id, 'people', 'p')).statusCode).toBe(403);
    expect((await api.remove(writer, org.id, 'people', 'p')).statusCode).toBe(204);
  });

  it('refuses data over the record limit (413) and malformed names and bodies (400), storing nothing', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const token = org.admin.token;
    const big = await api.put(token, org.id, 'people', 'big', { data: { blob: 'x'.repeat(70_000) } });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'record_too_large' } });
    const huge = await api.put(token, org.id, 'people', 'huge', { data: { blob: 'x'.repeat(200_000) } });
    expect(huge.statusCode).toBe(413);

    for (const [collection, key] of [
      ['people', '.hidden'],
      ['people', '-dash'],
      ['people', 'a'.repeat(129)],
      ['_under', 'x'],
      ['people', 'white%20space'],
      ['pe%2Fople', 'x'],
    ]) {
      const response = await api.put(token, org.id, collection!, key!, { data: { x: 1 } });
      expect(response.statusCode, `${collection}/${key}`).toBe(400);
      expect((await api.get(token, org.id, collection!, key!)).statusCode, `${collection}/${key}`).toBe(400);
    }
    for (const body of [{}, { data: [] }, { data: 'text' }, { data: {}, category: 'unknown' }, { data: {}, extra: 1 }, { data: {}, subject_id: '' }]) {
      expect((await api.put(token, org.id, 'people', 'ok', body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await api.list(token, org.id, 'people', '?cursor=%2F%2F')).statusCode).toBe(400);
    expect((await api.list(token, org.id, 'people', '?limit=1000')).statusCode).toBe(400);
    const stored = await state.t.db.database.db.selectFrom('vault_records').select('record_key').where('tenant_id', '=', org.id).execute();
    expect(stored).toEqual([]);
  });
});
