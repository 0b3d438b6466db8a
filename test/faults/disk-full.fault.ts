/**
 * Fault (e) of issue 9: the disk fills up during a backup. The backup folder is a real 1 MiB
 * tmpfs (mounted by this test; it needs root, as CI has) and the database holds several MiB that
 * do not compress. The backup must fail with an error that says the disk is full, list nothing,
 * and leave no partial files taking the space.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupConfig, makeFolders, serviceFor } from '../backup/support.js';
import type { BackupFolders } from '../backup/support.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { reportFault } from './report.js';

const run = promisify(execFile);

describe('a full disk during a backup', () => {
  let source: TestDatabase;
  let folders: BackupFolders;
  let mountPoint: string;

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
    mountPoint = await mkdtemp(join(tmpdir(), 'rampart-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
    // 4 MiB of random bytes: several times the space, whatever the compression.
    for (let i = 0; i < 64; i++) {
      await sql`insert into signing_keys (kid, purpose, public_jwk, private_key_sealed, retired_at)
        values (${`full-${i}`}, 'test', ${'{}'}::jsonb, ${randomBytes(64 * 1024)}, now())`.execute(source.database.db);
    }
  });
  afterAll(async () => {
    await run('umount', [mountPoint]).catch(() => undefined);
    await rm(mountPoint, { recursive: true, force: true });
    await folders?.remove();
    await source?.drop();
  });

  it('fails clearly, lists no backup and leaves no partial files', async () => {
    const config = backupConfig(folders, source.url, { RAMPART_BACKUP_DIR: mountPoint });
    const service = serviceFor(source.database, config);
    const error = await service.create().then(
      () => null,
      (caught: unknown) => caught as Error,
    );
    expect(error, 'the backup cannot fit').not.toBeNull();
    expect(error!.message).toMatch(/no space|disk is full|ENOSPC/i);
    expect(await service.list()).toEqual([]);
    const left = await readdir(mountPoint);
    expect(left, 'partial files left on the full disk').toEqual([]);
    await reportFault('disk-full', { target_bytes: 1024 * 1024, error: error!.message });
  });
});
