import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN } from '../../src/audit/index.js';
import { BackupIntegrityError, RestoreRefusedError } from '../../src/backup/index.js';
import type { RestoreTarget } from '../../src/backup/index.js';
import { signDetached } from '../../src/backup/manifest.js';
import { deriveKey } from '../../src/crypto/root-key.js';
import { ensureSigningKey } from '../../src/crypto/signing-keys.js';
import { openPglite, openPostgres } from '../../src/platform/db/index.js';
import type { Database } from '../../src/platform/db/index.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, emptyPostgresDatabase, makeFolders, ROOT_KEY, seedTrickyRows, serviceFor } from './support.js';
import type { BackupFolders } from './support.js';

/**
 * What a restore must refuse or record: chain heads that differ from the signed manifest fail it
 * with nothing restored; an unreadable erasure ledger stops it before anything is written; and the
 * restored database's audit log says where its data came from, with any environment override.
 */
describe('restore guarantees', () => {
  let source: TestDatabase;
  let folders: BackupFolders;

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
    await seedTrickyRows(source.database, 5);
  });
  afterAll(async () => {
    await source.drop();
    await folders.remove();
  });

  /** A fresh empty target on the engine under test, and how to open and remove it. */
  async function emptyTarget(label: string): Promise<{ into: RestoreTarget; open(): Promise<Database>; drop(): Promise<void> }> {
    if (source.url) {
      const created = await emptyPostgresDatabase();
      return { into: { kind: 'postgres', url: created.url }, open: async () => openPostgres(created.url, 1), drop: created.drop };
    }
    const dataDir = join(folders.dataDir, '..', label);
    return { into: { kind: 'pglite', dataDir }, open: () => openPglite(dataDir), drop: async () => undefined };
  }

  it('fails a restore whose audit chain heads differ from the manifest, restoring nothing', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url, { RAMPART_BACKUP_TARGETS: '' }));
    const { id } = await service.create();
    // Whoever holds the root key could sign a manifest that disagrees with the rows it carries.
    const dir = join(service.localDir, id);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { audit_heads: Array<{ size: number }> };
    expect(manifest.audit_heads.length).toBeGreaterThan(0);
    manifest.audit_heads[0]!.size += 1;
    const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    const signer = await ensureSigningKey(source.database.db, deriveKey(ROOT_KEY, 'signing-keys'), 'backup-manifest');
    await writeFile(join(dir, 'manifest.json'), bytes);
    await writeFile(join(dir, 'manifest.sig'), JSON.stringify(signDetached(bytes, signer.kid, signer.privateKey)));
    expect(await service.verify(id)).toMatchObject({ ok: true });

    const target = await emptyTarget('heads-differ');
    try {
      const restoring = service.restore(id, target.into);
      await expect(restoring).rejects.toThrow(BackupIntegrityError);
      await expect(restoring).rejects.toThrow(/audit chain heads differ from the manifest/);
      const restored = await target.open();
      try {
        const { rows } = await sql<{ tenants: number; heads: number }>`select (select count(*) from tenants)::int as tenants, (select count(*) from audit_heads)::int as heads`.execute(restored.db);
        expect(rows[0]).toEqual({ tenants: 0, heads: 0 });
      } finally {
        await restored.close();
      }
    } finally {
      await target.drop();
    }
  }, 180_000);

  it('refuses to restore when the erasure ledger cannot be read, before writing anything', async () => {
    const live = await createTestDatabase();
    const own = await makeFolders();
    try {
      const service = serviceFor(live.database, backupConfig(own, live.url));
      const { id } = await service.create();
      await sql`alter table erasure_ledger rename to erasure_ledger_elsewhere`.execute(live.database.db);
      const dataDir = join(own.dataDir, '..', 'never-written');
      const restoring = service.restore(id, { kind: 'pglite', dataDir });
      await expect(restoring).rejects.toThrow(RestoreRefusedError);
      await expect(restoring).rejects.toThrow(/erasure ledger of this instance cannot be read/);
      await expect(readdir(dataDir)).rejects.toThrow(/ENOENT/);
    } finally {
      await live.drop();
      await own.remove();
    }
  }, 120_000);

  it('records the restore, and an environment override with its reason, in the restored audit log', async () => {
    const config = backupConfig(folders, source.url, { RAMPART_BACKUP_TARGETS: '' });
    const { id } = await serviceFor(source.database, { ...config, env: 'production' }).create();
    const target = await emptyTarget('overridden');
    try {
      await serviceFor(source.database, { ...config, env: 'staging' }).restore(id, target.into, { overrideReason: 'incident 42 reproduction' });
      const restored = await target.open();
      try {
        const entries = await restored.db
          .selectFrom('audit_entries')
          .select(['action', 'actor_type', 'target_id', 'metadata'])
          .where('tenant_id', '=', PLATFORM_CHAIN)
          .where('action', '=', 'backup.restored')
          .execute();
        expect(entries).toEqual([
          {
            action: 'backup.restored',
            actor_type: 'system',
            target_id: id,
            metadata: expect.objectContaining({ backup_id: id, source_env: 'production', restored_by_env: 'staging', override_reason: 'incident 42 reproduction' }),
          },
        ]);
      } finally {
        await restored.close();
      }
    } finally {
      await target.drop();
    }
  }, 180_000);
});
