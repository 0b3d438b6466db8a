import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_CHAIN } from '../../src/audit/index.js';
import { RestoreRefusedError } from '../../src/backup/index.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, makeFolders, serviceFor } from './support.js';
import type { BackupFolders } from './support.js';

describe('backup lifecycle', () => {
  let source: TestDatabase;
  let folders: BackupFolders;

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
  });
  afterAll(async () => {
    await source.drop();
    await folders.remove();
  });

  it('never lists a partial backup, and a target that fails leaves the backup on no target', async () => {
    const config = backupConfig(folders, source.url);
    // A crash mid-backup leaves a staging folder behind.
    await mkdir(join(config.backup.dir, '.partial-20261130T000000000Z-0badf00d'), { recursive: true });
    await writeFile(join(config.backup.dir, '.partial-20261130T000000000Z-0badf00d', 'manifest.json'), '{}');
    // An off-site "folder" that is a file: the copy there fails after the local one was written.
    await writeFile(join(folders.dataDir, 'not-a-folder'), '');
    const broken = serviceFor(source.database, { ...config, backup: { ...config.backup, offsiteDirs: [join(folders.dataDir, 'not-a-folder')] } });
    await expect(broken.create()).rejects.toThrow();
    expect(await serviceFor(source.database, config).list()).toEqual([]);
    expect((await readdir(config.backup.dir)).filter((entry) => !entry.includes('0badf00d'))).toEqual([]);
  });

  it('refuses to restore a production backup into a non-production instance without a reason', async () => {
    const config = backupConfig(folders, source.url);
    const production = serviceFor(source.database, { ...config, env: 'production' });
    const { id } = await production.create();
    const staging = serviceFor(source.database, { ...config, env: 'staging' });
    const occupied = join(folders.dataDir, 'occupied');
    await mkdir(occupied, { recursive: true });
    await writeFile(join(occupied, 'file'), '');
    await expect(staging.restore(id, { kind: 'pglite', dataDir: occupied })).rejects.toThrow(/holds production data and this instance is staging/);
    // With a reason the guard lets it through (here to the next refusal: the folder is not empty).
    await expect(staging.restore(id, { kind: 'pglite', dataDir: occupied }, { overrideReason: 'incident 42 reproduction' })).rejects.toThrow(RestoreRefusedError);
    await expect(staging.restore(id, { kind: 'pglite', dataDir: occupied }, { overrideReason: 'incident 42 reproduction' })).rejects.toThrow(/not empty/);
  });

  it('refuses ids that are not backup ids (no path tricks)', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    await expect(service.verify('../../etc')).rejects.toThrow(/not a backup id/);
    await expect(service.verify('20261130T000000000Z-0badf00d')).rejects.toThrow(/No target holds a complete backup/);
  });

  it('records a failed drill when there is nothing to restore', async () => {
    const empty = await makeFolders();
    try {
      const service = serviceFor(source.database, backupConfig(empty, source.url));
      const drill = await service.drill();
      expect(drill).toMatchObject({ outcome: 'failed', backup_id: '', details: { error: 'there is no backup to restore' } });
      expect((await service.drills(10)).map((row) => row.id)).toContain(drill.id);
    } finally {
      await empty.remove();
    }
  });

  it('drills the latest backup: restores it into scratch, verifies it, records duration and outcome', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    const { id } = await service.create();
    const drill = await service.drill();
    expect(drill).toMatchObject({ backup_id: id, outcome: 'passed', details: { engine: source.url ? 'postgres' : 'pglite' } });
    expect(drill.duration_ms).toBeGreaterThan(0);
    expect(drill.backup_age_seconds).toBeGreaterThanOrEqual(0);
    const [latest] = await service.drills(1);
    expect(latest).toMatchObject({ id: drill.id, outcome: 'passed', duration_ms: drill.duration_ms });
    // Both are the system's own actions, in the platform chain.
    const entries = await source.database.db
      .selectFrom('audit_entries')
      .select(['action', 'actor_type', 'target_id', 'metadata'])
      .where('tenant_id', '=', PLATFORM_CHAIN)
      .where('target_id', '=', id)
      .orderBy('seq')
      .execute();
    expect(entries).toEqual([
      expect.objectContaining({ action: 'backup.created', actor_type: 'system', target_id: id }),
      expect.objectContaining({ action: 'backup.drill_completed', actor_type: 'system', target_id: id, metadata: expect.objectContaining({ outcome: 'passed', duration_ms: drill.duration_ms }) }),
    ]);
  }, 180_000);

  it('prunes by the retention policy on every target, idempotently', async () => {
    const service = serviceFor(source.database, backupConfig(folders, source.url));
    const before = (await service.list()).map((backup) => backup.id);
    expect(before.length).toBeGreaterThan(1);
    // Every backup here was made today: only the newest is the day's keeper.
    const first = await service.prune();
    expect(first).toEqual({ kept: [before.at(-1)], pruned: before.slice(0, -1).reverse() });
    expect(await service.prune()).toEqual({ kept: [before.at(-1)], pruned: [] });
    expect((await service.list()).map((backup) => backup.id)).toEqual([before.at(-1)]);
    expect(await readdir(folders.offsiteDir)).toEqual([before.at(-1)]);
  });
});
