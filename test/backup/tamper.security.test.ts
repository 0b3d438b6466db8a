import { randomBytes } from 'node:crypto';
import { cp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../src/backup/backup-reader.js';
import { deriveKey } from '../../src/crypto/root-key.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, makeFolders, ROOT_KEY, serviceFor } from './support.js';
import type { BackupFolders } from './support.js';

/**
 * Whoever holds the backup files (an off-site volume, a stolen disk) may change, cut, reorder or
 * drop bytes, or swap the manifest. Each attempt must be refused by `verify` without restoring,
 * naming the file and, inside a part, the chunk where it was found.
 */
describe('tampered backups', () => {
  let source: TestDatabase;
  let folders: BackupFolders;
  let original: string;
  let id: string;
  let blobPart: string;
  const backupKey = deriveKey(ROOT_KEY, 'backup');

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
    // Random bytes do not compress: this part spans several 64 KiB chunks.
    await sql`create table zz_blobs (id int primary key, data bytea not null)`.execute(source.database.db);
    for (let i = 0; i < 100; i++) await sql`insert into zz_blobs values (${i}, ${randomBytes(2048)})`.execute(source.database.db);
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    id = (await service.create()).id;
    original = join(service.localDir, id);
    blobPart = (await readdir(original)).find((file) => file.endsWith('-zz_blobs.ndjson.gz.enc'))!;
  });
  afterAll(async () => {
    await source.drop();
    await folders.remove();
  });

  /** A fresh copy of the backup to damage. */
  async function copy(): Promise<string> {
    const dir = join(folders.dataDir, '..', `tamper-${randomBytes(4).toString('hex')}`, id);
    await cp(original, dir, { recursive: true });
    return dir;
  }

  /** Offsets of each frame in a part: after the 8-byte magic, u32 length | nonce | ciphertext | tag. */
  async function frameOffsets(path: string): Promise<number[]> {
    const bytes = await readFile(path);
    const offsets: number[] = [];
    for (let offset = 8; offset < bytes.length; offset += 4 + 12 + bytes.readUInt32BE(offset) + 16) offsets.push(offset);
    return offsets;
  }

  it('verifies the untouched backup', async () => {
    expect(await verifyBackup(original, id, backupKey)).toMatchObject({ ok: true, problems: [] });
    expect((await frameOffsets(join(original, blobPart))).length).toBeGreaterThan(2);
  });

  it('names the part and chunk of a changed byte', async () => {
    const dir = await copy();
    const path = join(dir, blobPart);
    const offsets = await frameOffsets(path);
    const handle = await open(path, 'r+');
    const at = offsets[2]! + 40;
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    await handle.write(Buffer.from([byte[0]! ^ 0x01]), 0, 1, at);
    await handle.close();
    const report = await verifyBackup(dir, id, backupKey);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ part: blobPart, chunk: 2, problem: expect.stringMatching(/authentication failed/) }]);
  });

  it('detects reordered chunks', async () => {
    const dir = await copy();
    const path = join(dir, blobPart);
    const bytes = await readFile(path);
    const [first, second, third] = await frameOffsets(path);
    const swapped = Buffer.concat([bytes.subarray(0, first), bytes.subarray(second, third), bytes.subarray(first, second), bytes.subarray(third)]);
    await writeFile(path, swapped);
    const report = await verifyBackup(dir, id, backupKey);
    expect(report.problems[0]).toMatchObject({ part: blobPart, chunk: 0, problem: expect.stringMatching(/authentication failed/) });
  });

  it('names a missing part', async () => {
    const dir = await copy();
    await rm(join(dir, blobPart));
    const report = await verifyBackup(dir, id, backupKey);
    expect(report.problems).toEqual([{ part: blobPart, chunk: null, problem: 'the part file is missing' }]);
  });

  it('detects a file cut inside a chunk and one cut at a chunk boundary', async () => {
    const inside = await copy();
    const size = (await stat(join(inside, blobPart))).size;
    await truncate(join(inside, blobPart), size - 10);
    const cutInside = await verifyBackup(inside, id, backupKey);
    expect(cutInside.problems[0]).toMatchObject({ part: blobPart, problem: expect.stringMatching(/truncated/) });

    const boundary = await copy();
    const offsets = await frameOffsets(join(boundary, blobPart));
    await truncate(join(boundary, blobPart), offsets.at(-1)!);
    const cutAtBoundary = await verifyBackup(boundary, id, backupKey);
    expect(cutAtBoundary.problems).toEqual([{ part: blobPart, chunk: offsets.length - 1, problem: 'missing: the file ends before its final chunk (truncated)' }]);
  });

  it('refuses a wrong key at the manifest, before reading any part', async () => {
    const report = await verifyBackup(original, id, deriveKey(randomBytes(32), 'backup'));
    expect(report.problems).toEqual([{ part: 'manifest.json', chunk: null, problem: expect.stringMatching(/not endorsed by this backup key/) }]);
  });

  it('refuses a changed manifest', async () => {
    const dir = await copy();
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    await writeFile(join(dir, 'manifest.json'), text.replace(/"rows": (\d+)/, (_, rows: string) => `"rows": ${Number(rows) + 1}`));
    const report = await verifyBackup(dir, id, backupKey);
    expect(report.problems).toEqual([{ part: 'manifest.json', chunk: null, problem: 'the manifest signature does not verify (the manifest was changed)' }]);
  });

  it('refuses a backup moved under another id', async () => {
    const dir = await copy();
    const report = await verifyBackup(dir, id.replace(/.$/, (c) => (c === '0' ? '1' : '0')), backupKey);
    expect(report.problems[0]).toMatchObject({ part: 'manifest.json', problem: expect.stringMatching(/signed for backup/) });
  });
});
