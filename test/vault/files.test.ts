/**
 * Vault files are streamed through chunked AES-256-GCM into the file store. Someone with write
 * access to the store flips bits, cuts a file short (also exactly at a chunk boundary), reorders
 * chunks or swaps one file's blob for another's: every download must fail with 409
 * `undecryptable` before a byte of plaintext is sent.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, FILE_HEADER_BYTES } from '../../src/vault/file-cipher.js';
import { bearer } from '../identity/support.js';
import { useVaultApp, vaultClient } from './support.js';
import type { Org } from './support.js';

const SEALED_CHUNK = 12 + FILE_CHUNK_BYTES + 16;

describe('vault files', () => {
  const state = useVaultApp();
  const blobPath = async (org: Org, key: string) => {
    const row = await state.t.db.database.db.selectFrom('vault_files').select('blob_id').where('tenant_id', '=', org.id).where('file_key', '=', key).executeTakeFirstOrThrow();
    return join(state.fileDir, org.id, row.blob_id);
  };

  it('round-trips files of every shape: empty, one chunk, exactly two chunks, several', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    for (const size of [0, 10, FILE_CHUNK_BYTES * 2, FILE_CHUNK_BYTES * 3 + 17]) {
      const body = randomBytes(size);
      const put = await api.putFile(org.admin.token, org.id, `f-${size}.bin`, body, { 'content-type': 'image/jpeg' });
      expect(put.statusCode, put.body).toBe(201);
      expect(put.json()).toMatchObject({ key: `f-${size}.bin`, size, content_type: 'image/jpeg' });
      const got = await api.getFile(org.member.token, org.id, `f-${size}.bin`);
      expect(got.statusCode).toBe(200);
      expect(got.headers['content-type']).toBe('image/jpeg');
      expect(got.headers['content-disposition']).toBe('attachment');
      expect(got.rawPayload.equals(body)).toBe(true);
    }
  });

  it('replaces and deletes files, removing their blobs', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    await api.putFile(org.admin.token, org.id, 'doc.pdf', Buffer.from('first'));
    const first = await blobPath(org, 'doc.pdf');
    const replaced = await api.putFile(org.admin.token, org.id, 'doc.pdf', Buffer.from('second'));
    expect(replaced.statusCode).toBe(200);
    expect((await api.getFile(org.admin.token, org.id, 'doc.pdf')).body).toBe('second');
    expect(await readdir(join(state.fileDir, org.id))).toEqual([(await blobPath(org, 'doc.pdf')).split('/').at(-1)]);
    expect(first).not.toBe(await blobPath(org, 'doc.pdf'));
    expect((await api.removeFile(org.admin.token, org.id, 'doc.pdf')).statusCode).toBe(204);
    expect(await readdir(join(state.fileDir, org.id))).toEqual([]);
    expect((await api.getFile(org.admin.token, org.id, 'doc.pdf')).statusCode).toBe(404);
  });

  it('refuses a tampered, truncated, reordered or swapped file with 409', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const body = randomBytes(FILE_CHUNK_BYTES * 3 + 100);
    const keys = ['flip', 'cut-boundary', 'cut-middle', 'reorder', 'swap', 'donor', 'extended'];
    for (const key of keys) await api.putFile(org.admin.token, org.id, key, body);
    const original = await readFile(await blobPath(org, 'flip'));
    const chunk = (index: number) => original.subarray(FILE_HEADER_BYTES + index * SEALED_CHUNK, FILE_HEADER_BYTES + (index + 1) * SEALED_CHUNK);

    const flipped = Buffer.from(original);
    flipped[FILE_HEADER_BYTES + SEALED_CHUNK + 500]! ^= 0x01;
    await writeFile(await blobPath(org, 'flip'), flipped);
    const cutAtBoundary = await readFile(await blobPath(org, 'cut-boundary'));
    await writeFile(await blobPath(org, 'cut-boundary'), cutAtBoundary.subarray(0, FILE_HEADER_BYTES + 3 * SEALED_CHUNK));
    const cutMiddle = await readFile(await blobPath(org, 'cut-middle'));
    await writeFile(await blobPath(org, 'cut-middle'), cutMiddle.subarray(0, cutMiddle.length - 50));
    const reorder = await readFile(await blobPath(org, 'reorder'));
    const sealed = (index: number) => reorder.subarray(FILE_HEADER_BYTES + index * SEALED_CHUNK, FILE_HEADER_BYTES + (index + 1) * SEALED_CHUNK);
    await writeFile(await blobPath(org, 'reorder'), Buffer.concat([reorder.subarray(0, FILE_HEADER_BYTES), sealed(1), sealed(0), reorder.subarray(FILE_HEADER_BYTES + 2 * SEALED_CHUNK)]));
    await writeFile(await blobPath(org, 'swap'), await readFile(await blobPath(org, 'donor')));
    const extended = await readFile(await blobPath(org, 'extended'));
    await writeFile(await blobPath(org, 'extended'), Buffer.concat([extended, chunk(0)]));

    for (const key of keys.filter((name) => name !== 'donor')) {
      const response = await api.getFile(org.admin.token, org.id, key);
      expect(response.statusCode, key).toBe(409);
      expect(response.json(), key).toMatchObject({ error: { code: 'undecryptable' } });
    }
    expect((await api.getFile(org.admin.token, org.id, 'donor')).rawPayload.equals(body)).toBe(true);
  });

  it('refuses files over the limit (413), declared or streamed, storing nothing', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const declared = await api.putFile(org.admin.token, org.id, 'big.bin', randomBytes(1024 * 1024 + 1));
    expect(declared.statusCode).toBe(413);
    const streamed = await state.t.app.inject({
      method: 'PUT',
      url: `/v1/orgs/${org.id}/files/streamed.bin`,
      headers: { ...bearer(org.admin.token), 'content-type': 'application/octet-stream' },
      payload: Readable.from((function* () {
        for (let i = 0; i < 20; i++) yield randomBytes(64 * 1024);
      })()),
    });
    expect(streamed.statusCode).toBe(413);
    expect(streamed.json()).toMatchObject({ error: { code: 'file_too_large' } });
    expect(await state.t.db.database.db.selectFrom('vault_files').select('file_key').where('tenant_id', '=', org.id).execute()).toEqual([]);
    expect(await readdir(join(state.fileDir, org.id)).catch(() => [])).toEqual([]);
  });

  it('checks names, media types, roles, scopes and org', async () => {
    const api = vaultClient(state.t);
    const [org, other] = [await api.org(), await api.org()];
    expect((await api.putFile(org.admin.token, org.id, '.secret', Buffer.from('x'))).statusCode).toBe(400);
    expect((await api.putFile(org.admin.token, org.id, 'x.bin', Buffer.from('x'), { 'content-type': 'text/html\r\nx: y' })).statusCode).toBeGreaterThanOrEqual(400);
    expect((await api.putFile(org.admin.token, org.id, 'x.bin', Buffer.from('x'), { 'content-type': 'not a type' })).statusCode).toBe(415);
    // A subject id in a header is ASCII: other characters would not match the same id in a record.
    expect((await api.putFile(org.admin.token, org.id, 'x.bin', Buffer.from('x'), { 'x-rampart-subject-id': 'Jos\u00e9' })).statusCode).toBe(400);
    expect((await api.putFile(org.member.token, org.id, 'x.bin', Buffer.from('x'))).statusCode).toBe(403);
    expect((await api.putFile(await api.key(org, ['records:read']), org.id, 'x.bin', Buffer.from('x'))).statusCode).toBe(403);
    expect((await api.putFile(await api.key(org, ['records:write']), org.id, 'x.bin', Buffer.from('x'))).statusCode).toBe(201);
    expect((await api.getFile(await api.key(org, ['records:read']), org.id, 'x.bin')).body).toBe('x');
    expect((await api.getFile(other.owner.token, org.id, 'x.bin')).statusCode).toBe(404);
    expect((await api.getFile(other.owner.token, other.id, 'x.bin')).statusCode).toBe(404);
    expect((await api.removeFile(other.owner.token, org.id, 'x.bin')).statusCode).toBe(404);
    expect((await api.removeFile(org.member.token, org.id, 'x.bin')).statusCode).toBe(403);
  });
});
