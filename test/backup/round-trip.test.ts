import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN } from '../../src/audit/index.js';
import { deriveKey } from '../../src/crypto/root-key.js';
import { ensureSigningKey } from '../../src/crypto/signing-keys.js';
import { openPglite, openPostgres } from '../../src/platform/db/index.js';
import type { Database } from '../../src/platform/db/index.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, dumpAll, ROOT_KEY, emptyPostgresDatabase, makeFolders, postgresReachable, recordErasure, seedSubjectKey, seedTrickyRows, serviceFor, subjectKeysDestroyed } from './support.js';
import type { BackupFolders } from './support.js';

/**
 * create -> verify -> restore -> identical data, on the engine under test, and into the other
 * engine: PGlite -> PostgreSQL on a default run, PostgreSQL -> PGlite on a DATABASE_URL run. A
 * subject erased after the backup stays erased: the restore replays the live erasure ledger.
 */
describe('backup round trip', () => {
  let source: TestDatabase;
  let folders: BackupFolders;
  let backupId: string;
  let expected: Record<string, string[]>;
  let pgReachable: boolean;
  let subject: { tenantId: string; subjectIndex: Buffer };

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
    await seedTrickyRows(source.database);
    subject = await seedSubjectKey(source.database);
    pgReachable = await postgresReachable();
  });
  afterAll(async () => {
    await source.drop();
    await folders.remove();
  });

  it('creates a backup listed on every target, and verifies it', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    // The manifest's signing key exists before the snapshot, as on any server after its first
    // backup; what the backup records about itself afterwards (its audit entry) is not in it.
    await ensureSigningKey(source.database.db, deriveKey(ROOT_KEY, 'signing-keys'), 'backup-manifest');
    expected = await dumpAll(source.database);
    const created = await service.create();
    backupId = created.id;
    // Erased after the backup: a restore must not bring the subject back.
    await recordErasure(source.database, subject);
    expect(created.rows).toBeGreaterThan(150);
    const [listed] = await service.list();
    expect(listed).toMatchObject({ id: created.id, engine: source.database.kind, targets: ['local', 'offsite:1'] });
    const report = await service.verify(created.id);
    expect(report).toMatchObject({ ok: true, problems: [] });
  });

  async function restoreAndCompare(into: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string }, open: () => Promise<Database>): Promise<void> {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    const restored = await service.restore(backupId, into);
    expect(restored.rows).toBe(Object.values(expected).reduce((sum, rows) => sum + rows.length, 0));
    expect(restored.auditHeadsMatch).not.toBe(false);
    expect(restored.erasuresReplayed).toMatchObject({ entries: 1, keysDestroyed: 1 });
    const target = await open();
    try {
      // What the restore adds itself: the replayed erasure, and its own audit entry.
      const { data_keys: keys, erasure_ledger: ledger, security_events: events, audit_entries: entries, audit_heads: heads, ...rest } = await dumpAll(target);
      const { data_keys: expectedKeys, erasure_ledger: expectedLedger, security_events: expectedEvents, audit_entries: expectedEntries, audit_heads: expectedHeads, ...expectedRest } = expected;
      expect(rest).toEqual(expectedRest);
      expect([keys?.length, ledger?.length]).toEqual([expectedKeys?.length, (expectedLedger?.length ?? 0) + 1]);
      expect(await subjectKeysDestroyed(target, subject)).toEqual([true]);
      expect([events?.length, entries?.length]).toEqual([(expectedEvents?.length ?? 0) + 1, (expectedEntries?.length ?? 0) + 1]);
      expect(entries).toEqual(expect.arrayContaining(expectedEntries ?? []));
      // Every chain but the platform's, which the restore's entry extended, is as it was.
      const otherChains = (rows: string[] | undefined) => (rows ?? []).filter((row) => !row.startsWith(`["${PLATFORM_CHAIN}"`));
      expect(otherChains(heads)).toEqual(otherChains(expectedHeads));
      const restoredEntry = await target.db
        .selectFrom('audit_entries')
        .select(['action', 'actor_type', 'target_id', 'metadata'])
        .where('tenant_id', '=', PLATFORM_CHAIN)
        .where('action', '=', 'backup.restored')
        .execute();
      expect(restoredEntry).toEqual([
        { action: 'backup.restored', actor_type: 'system', target_id: backupId, metadata: expect.objectContaining({ backup_id: backupId, override_reason: null, erasures_replayed: 1, keys_destroyed: 1 }) },
      ]);
    } finally {
      await target.close();
    }
  }

  it('restores into the same engine with identical data', async () => {
    if (source.url) {
      const target = await emptyPostgresDatabase();
      try {
        await restoreAndCompare({ kind: 'postgres', url: target.url }, async () => openPostgres(target.url, 2));
      } finally {
        await target.drop();
      }
    } else {
      const dataDir = join(folders.dataDir, '..', 'restored-same');
      await restoreAndCompare({ kind: 'pglite', dataDir }, () => openPglite(dataDir));
    }
  }, 180_000);

  it('restores into the other engine with identical data (PGlite <-> PostgreSQL)', async (context) => {
    if (source.url) {
      const dataDir = join(folders.dataDir, '..', 'restored-cross');
      await restoreAndCompare({ kind: 'pglite', dataDir }, () => openPglite(dataDir));
      return;
    }
    if (!pgReachable) context.skip('no PostgreSQL at 127.0.0.1:5432 to restore into');
    const target = await emptyPostgresDatabase();
    try {
      await restoreAndCompare({ kind: 'postgres', url: target.url }, async () => openPostgres(target.url, 2));
    } finally {
      await target.drop();
    }
  }, 180_000);

  it('refuses a non-empty target and changes nothing in it', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    const dataDir = join(folders.dataDir, '..', 'occupied');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'keep-me'), 'something');
    await expect(service.restore(backupId, { kind: 'pglite', dataDir })).rejects.toThrow(/not empty/);
    expect(await readdir(dataDir)).toEqual(['keep-me']);
    if (source.url) await expect(service.restore(backupId, { kind: 'postgres', url: source.url })).rejects.toThrow(/not empty/);
  });

  it('refuses a PostgreSQL database holding any table, leaving it as it was', async (context) => {
    if (!pgReachable) context.skip('no PostgreSQL at 127.0.0.1:5432');
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    const target = await emptyPostgresDatabase();
    const database = openPostgres(target.url, 1);
    try {
      await sql`create table keep_me (id int)`.execute(database.db);
      await expect(service.restore(backupId, { kind: 'postgres', url: target.url })).rejects.toThrow(/not empty/);
      const { rows } = await sql<{ name: string }>`select relname as name from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'`.execute(database.db);
      expect(rows.map((row) => row.name)).toEqual(['keep_me']);
    } finally {
      await database.close();
      await target.drop();
    }
  });
});
