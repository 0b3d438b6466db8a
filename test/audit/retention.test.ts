import type { JsonWebKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveIntegrityError, readArchive } from '../../src/audit/archive-file.js';
import type { ArchivedEntry, ArchiveHeader } from '../../src/audit/archive-file.js';
import { checkProofDocument } from '../../src/audit/proof-document.js';
import { createAuditRetention } from '../../src/audit/retention.js';
import { verifyChain } from '../../src/audit/verify.js';
import type { AuditRetention } from '../../src/audit/retention.js';
import { archiveKey, readPart } from '../../src/backup/index.js';
import { listAllPublicKeys } from '../../src/crypto/signing-keys.js';
import { createTestApp, TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { drainJobs, RELAXED_LIMITS } from '../identity/support.js';
import { chainEntries } from './chain-support.js';
import { auditClient, seedChain, seedEntry } from './routes-support.js';

/**
 * Retention: expired entries move to a sealed archive file and leave the table; what remains still
 * verifies from the archived boundary's signed checkpoint, and the archive proves the rest.
 */
const DAY = 86_400_000;
const KEY = archiveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'audit-archive');

describe('audit retention', () => {
  const clock = new FakeClock('2026-01-05T12:00:00Z');
  const start = clock.now().getTime();
  let t: TestApp;
  let audit: ReturnType<typeof auditClient>;
  let dir: string;
  let retention: AuditRetention;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-audit-archive-'));
    // Every run of the checkpoint job signs every chain that grew: the tests choose the boundaries.
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_AUDIT_CHECKPOINT_EVERY: '1', RAMPART_AUDIT_RETENTION_DAYS: '30', RAMPART_AUDIT_ARCHIVE_DIR: dir }, { clock });
    audit = auditClient(t);
    const db = t.db.database.db;
    retention = createAuditRetention({ db, clock, retentionDays: 30, archiveDir: dir, archiveKey: KEY, publicKeys: () => listAllPublicKeys(db, 'audit-checkpoint') });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function checkpointNow(): Promise<void> {
    clock.advance(60_000);
    await drainJobs(t);
  }

  async function keys(): Promise<JsonWebKey[]> {
    return (await t.app.inject({ method: 'GET', url: '/v1/audit/keys' })).json<{ keys: JsonWebKey[] }>().keys;
  }

  /** An org whose chain holds three groups of entries, ten days apart, each closed by a signed checkpoint. */
  async function orgWithHistory() {
    const org = await audit.orgWithKeys();
    const sizes: number[] = [];
    for (const count of [10, 5, 5]) {
      await seedChain(t, org.id, count, (index) => seedEntry(index, clock.now()));
      await checkpointNow();
      sizes.push((await chainEntries(t.db.database.db, org.id)).length);
      clock.advance(10 * DAY);
    }
    return { org, sizes };
  }

  async function archiveEntries(file: string): Promise<{ header: ArchiveHeader; entries: ArchivedEntry[] }> {
    const lines: unknown[] = [];
    for await (const batch of readPart<unknown>(join(dir, file), KEY, { backupId: 'audit-archive', part: file }, 100).items) lines.push(...batch);
    return { header: lines[0] as ArchiveHeader, entries: lines.slice(1) as ArchivedEntry[] };
  }

  it('moves expired entries to a sealed archive; the rest verifies from the boundary and still has proofs', async () => {
    const { org, sizes } = await orgWithHistory();
    const [first, second] = sizes as [number, number, number];
    const before = await chainEntries(t.db.database.db, org.id);
    // 35 days after the first group: only it is older than 30 days.
    clock.set(new Date(start + 35 * DAY));
    const cutoff = clock.now().getTime() - 30 * DAY;
    const archived = await retention.archiveChain(org.id);
    expect(archived).toMatchObject({ tenant: org.id, from: 0, below: first });

    // Gone from the table; nothing younger than the cutoff left it.
    const after = await chainEntries(t.db.database.db, org.id);
    expect(after[0]!.seq).toBe(first);
    expect(before.filter((row) => row.seq < first).every((row) => row.at.getTime() < cutoff)).toBe(true);
    const kept = new Set(after.map((row) => row.seq));
    expect(before.filter((row) => row.at.getTime() >= cutoff).every((row) => kept.has(row.seq))).toBe(true);
    const recorded = after.at(-1)!;
    expect(recorded).toMatchObject({ action: 'audit.archived', actor_type: 'system', metadata: { from: 0, below: first, file: archived!.file, sha256: archived!.sha256 } });

    // The archive decrypts, its SHA-256 is the recorded one, and its entries chain to the boundary.
    const summary = await readArchive(join(dir, archived!.file), archived!.file, KEY, await keys());
    expect(summary).toMatchObject({ tenant: org.id, from: 0, below: first, entries: first, sha256: archived!.sha256 });
    const { header, entries } = await archiveEntries(archived!.file);
    expect(header.checkpoint.size).toBe(first);
    expect(entries.map((entry) => entry.hash)).toEqual(before.slice(0, first).map((row) => Buffer.from(row.hash).toString('hex')));

    // The verify route (an API key: the users' access tokens expired days ago) counts from the boundary and finds the chain valid.
    const verified = await audit.get(org.reader, `/v1/orgs/${org.id}/audit/verify`);
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json()).toMatchObject({ valid: true, entries: recorded.seq + 1 - first, head: { seq: recorded.seq } });

    // Inclusion proofs of remaining entries still verify; an archived entry is proven from the file.
    const proven = await audit.get(org.reader, `/v1/orgs/${org.id}/audit/proofs/inclusion?seq=${first}&size=${second}`);
    expect(proven.statusCode, proven.body).toBe(200);
    expect(checkProofDocument(proven.json(), await keys())).toEqual({ valid: true });
    const gone = await audit.get(org.reader, `/v1/orgs/${org.id}/audit/proofs/inclusion?seq=0&size=${second}`);
    expect(gone.statusCode).toBe(404);
  });

  it('changes nothing when run again, and waits for a signed checkpoint below the cutoff', async () => {
    const { org, sizes } = await orgWithHistory();
    clock.set(new Date(start + 40 * DAY + 1_000 * DAY));
    // Everything is expired, but only up to the last signed checkpoint: the audit.archived entry
    // and what came after the last checkpoint wait for the next one.
    const archived = await retention.archiveChain(org.id);
    expect(archived).toMatchObject({ below: sizes[2] });
    const remaining = (await chainEntries(t.db.database.db, org.id)).map((row) => row.seq);
    expect(await retention.archiveChain(org.id)).toBeNull();
    expect((await chainEntries(t.db.database.db, org.id)).map((row) => row.seq)).toEqual(remaining);
    expect((await readdir(dir)).filter((name) => name.startsWith(org.id))).toEqual([archived!.file]);
  });

  it('resumes after a crash between writing the file and deleting: reuses a good file, rewrites a damaged one', async () => {
    const { org, sizes } = await orgWithHistory();
    clock.set(new Date(start + 35 * DAY + 2_000 * DAY));
    // The crash: the file is written, the entries are still there.
    const plan = (await retention.planChain(org.id))!;
    const sha256 = await retention.writeArchiveFile(plan);
    expect((await chainEntries(t.db.database.db, org.id))[0]!.seq).toBe(0);
    const resumed = await retention.archiveChain(org.id);
    expect(resumed).toMatchObject({ below: sizes[2], file: plan.file, sha256 });

    // A damaged file (cut short before the crash) and a stale partial one are written again.
    const next = await orgWithHistory();
    clock.set(new Date(start + 35 * DAY + 3_000 * DAY));
    const nextPlan = (await retention.planChain(next.org.id))!;
    await retention.writeArchiveFile(nextPlan);
    const path = join(dir, nextPlan.file);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 10));
    await writeFile(join(dir, `.partial-${nextPlan.file}`), 'garbage');
    await expect(readArchive(path, nextPlan.file, KEY, await keys())).rejects.toThrow(ArchiveIntegrityError);
    const rewritten = await retention.archiveChain(next.org.id);
    expect(rewritten).toMatchObject({ below: next.sizes[2] });
    expect((await readArchive(path, nextPlan.file, KEY, await keys())).sha256).toBe(rewritten!.sha256);
    expect(await verifyChain(t.db.database.db, next.org.id)).toMatchObject({ valid: true });
  });

  it('refuses an archive that was changed, renamed or opened with another key', async () => {
    const { org } = await orgWithHistory();
    clock.set(new Date(start + 35 * DAY + 4_000 * DAY));
    const archived = (await retention.archiveChain(org.id))!;
    const path = join(dir, archived.file);
    const bytes = await readFile(path);
    const changed = Buffer.from(bytes);
    changed[changed.length - 40]! ^= 1;
    await writeFile(join(dir, 'changed'), changed);
    await expect(readArchive(join(dir, 'changed'), archived.file, KEY, await keys())).rejects.toThrow(/authentication failed/);
    await expect(readArchive(path, 'other-name', KEY, await keys())).rejects.toThrow(ArchiveIntegrityError);
    await expect(readArchive(path, archived.file, Buffer.alloc(32, 1), await keys())).rejects.toThrow(ArchiveIntegrityError);
    await expect(readArchive(path, archived.file, KEY, [])).rejects.toThrow(/no valid signature/);
    await rm(join(dir, 'changed'));
  });

  it('runs as a daily job over every chain', async () => {
    const { org } = await orgWithHistory();
    clock.set(new Date(start + 35 * DAY + 5_000 * DAY));
    await drainJobs(t);
    const rows = await chainEntries(t.db.database.db, org.id);
    expect(rows[0]!.seq).toBeGreaterThan(0);
    expect(rows.some((row) => row.action === 'audit.archived')).toBe(true);
    expect(await verifyChain(t.db.database.db, org.id)).toMatchObject({ valid: true });
  });
});
