import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResidencyError } from '../../src/backup/index.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { openPglite, openPostgres } from '../../src/platform/db/index.js';
import { FakeClock } from '../helpers/clock.js';
import { S3_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, dumpAll, emptyPostgresDatabase, makeFolders, seedTrickyRows, serviceFor } from './support.js';
import type { BackupFolders } from './support.js';

const BUCKET = 'rampart-test';
const PREFIX = 'team-a/';
const CREDENTIALS = S3_CREDENTIALS;

/**
 * The S3-compatible off-site target against a real S3 server (s3rver, started here): a backup is
 * uploaded, read back and verified, and only then marked complete; it restores from the bucket
 * alone; a changed object is caught; a region outside the allowed residency is refused.
 */
describe('S3 backup target', () => {
  let source: TestDatabase;
  let folders: BackupFolders;
  let server: Awaited<ReturnType<typeof startS3Server>>;
  let endpoint: string;
  let s3: S3Client;
  let backupId: string;

  const s3Env = (overrides: Record<string, string> = {}) => ({
    RAMPART_BACKUP_S3_BUCKET: BUCKET,
    RAMPART_BACKUP_S3_REGION: 'eu-central-1',
    RAMPART_BACKUP_S3_ENDPOINT: endpoint,
    RAMPART_BACKUP_S3_PREFIX: PREFIX,
    RAMPART_BACKUP_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    RAMPART_BACKUP_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    ...overrides,
  });
  const config = (overrides: Record<string, string> = {}): Config => backupConfig(folders, source.url, s3Env(overrides));

  async function keys(prefix = PREFIX): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((object) => object.Key!).sort();
  }

  beforeAll(async () => {
    source = await createTestDatabase();
    folders = await makeFolders();
    await seedTrickyRows(source.database, 20);
    server = await startS3Server(BUCKET);
    endpoint = server.endpoint;
    s3 = server.client;
  });
  afterAll(async () => {
    await server?.close();
    await source.drop();
    await folders.remove();
  });

  it('uploads a backup, verifies it as read back, and marks it complete last', async () => {
    const service = serviceFor(source.database, config());
    const created = await service.create();
    backupId = created.id;
    expect(created.targets).toEqual(['local', 'offsite:1', `s3:${BUCKET}`]);
    const stored = await keys();
    const local = await readdir(join(service.localDir, backupId));
    expect(stored).toEqual([...local.map((file) => `${PREFIX}${backupId}/${file}`), `${PREFIX}${backupId}/COMPLETE`].sort());
    // The bucket holds the very bytes the local copy has.
    const manifest = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${backupId}/manifest.json` }));
    expect(Buffer.from(await manifest.Body!.transformToByteArray())).toEqual(await readFile(join(service.localDir, backupId, 'manifest.json')));
    expect((await service.list()).map((backup) => [backup.id, backup.targets])).toEqual([[backupId, ['local', 'offsite:1', `s3:${BUCKET}`]]]);
  });

  it('verifies and restores from the bucket alone when the local and folder copies are gone', async () => {
    const expected = await dumpAll(source.database);
    const service = serviceFor(source.database, config());
    await rm(join(service.localDir, backupId), { recursive: true });
    await rm(join(folders.offsiteDir, backupId), { recursive: true });
    expect(await service.list()).toEqual([expect.objectContaining({ id: backupId, engine: 'off-site only', targets: [`s3:${BUCKET}`] })]);
    expect(await service.verify(backupId)).toMatchObject({ ok: true, problems: [] });

    const restoreInto = source.url ? await emptyPostgresDatabase() : null;
    const dataDir = join(folders.dataDir, '..', 'restored-from-s3');
    try {
      const restored = await service.restore(backupId, restoreInto ? { kind: 'postgres', url: restoreInto.url } : { kind: 'pglite', dataDir });
      expect(restored.rows).toBeGreaterThan(60);
      const target = restoreInto ? openPostgres(restoreInto.url, 1) : await openPglite(dataDir);
      try {
        const actual = await dumpAll(target);
        expect(actual.tenants).toEqual(expected.tenants);
        expect(actual.signing_keys).toEqual(expected.signing_keys);
      } finally {
        await target.close();
      }
    } finally {
      await restoreInto?.drop();
    }
    // Nothing downloaded for the restore is left behind.
    expect((await readdir(service.localDir)).filter((entry) => entry.startsWith('.partial-'))).toEqual([]);
  }, 180_000);

  it('names the part and chunk of a byte changed in the bucket', async () => {
    const service = serviceFor(source.database, config());
    const part = (await keys(`${PREFIX}${backupId}/`)).find((key) => key.endsWith('-signing_keys.ndjson.gz.enc'))!;
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: part }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    bytes[40] = bytes[40]! ^ 0x01;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: part, Body: bytes }));
    const report = await service.verify(backupId);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ part: part.split('/').at(-1), chunk: 0, problem: expect.stringMatching(/authentication failed/) }]);
  });

  it('refuses a region outside the allowed residency when the configuration loads', () => {
    expect(() => config({ RAMPART_BACKUP_S3_REGION: 'us-east-1' })).toThrow(ConfigError);
    expect(() => config({ RAMPART_BACKUP_S3_REGION: 'us-east-1' })).toThrow(/us-east-1.*outside the allowed data residency.*eu/);
    expect(() => config({ RAMPART_BACKUP_S3_REGION: 'eu-central-1', RAMPART_DATA_RESIDENCY: 'fr-par' })).toThrow(/outside the allowed data residency/);
    expect(() => config({ RAMPART_BACKUP_S3_REGION: 'fr-par', RAMPART_DATA_RESIDENCY: 'eu,fr-par' })).not.toThrow();
    expect(() => config({ RAMPART_DATA_RESIDENCY: 'eu/../us' })).toThrow(/RAMPART_DATA_RESIDENCY/);
    expect(() => loadConfig({ RAMPART_BACKUP_S3_BUCKET: BUCKET })).toThrow(/RAMPART_BACKUP_S3_REGION/);
  });

  it('refuses again before writing anything, whatever configuration reached the service', async () => {
    const loaded = config();
    const outside: Config = { ...loaded, backup: { ...loaded.backup, s3: { ...loaded.backup.s3!, region: 'us-east-1' } } };
    const before = { local: await readdir(loaded.backup.dir), bucket: await keys() };
    await expect(serviceFor(source.database, outside).create()).rejects.toThrow(ResidencyError);
    await expect(serviceFor(source.database, outside).create()).rejects.toThrow(/s3:rampart-test is in region "us-east-1", outside the allowed data residency \(eu\)/);
    expect({ local: await readdir(loaded.backup.dir), bucket: await keys() }).toEqual(before);
  });

  it('never lists a partial upload, removes a failed one everywhere, and prunes a stale one', async () => {
    const clock = new FakeClock(new Date());
    const service = serviceFor(source.database, config(), { clock });
    const listed = (await service.list()).map((backup) => backup.id);
    // A writer killed half-way: files uploaded, the marker never written.
    const orphan = `${backupId.slice(0, 18)}Z-${randomBytes(4).toString('hex')}`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${orphan}/manifest.json`, Body: '{}' }));
    expect((await service.list()).map((backup) => backup.id)).toEqual(listed);
    await expect(service.verify(orphan)).rejects.toThrow(/No target holds a complete backup/);

    // A bucket that refuses the upload: the backup is on no target afterwards.
    const broken = serviceFor(source.database, config({ RAMPART_BACKUP_S3_BUCKET: 'no-such-bucket' }), { clock });
    const localBefore = await readdir(service.localDir);
    await expect(broken.create()).rejects.toThrow();
    expect(await readdir(service.localDir)).toEqual(localBefore);
    expect(await readdir(folders.offsiteDir)).toEqual([]);
    expect((await service.list()).map((backup) => backup.id)).toEqual(listed);

    // After a day the orphan is taken for dead and pruned; complete backups are untouched.
    await service.prune();
    expect(await keys(`${PREFIX}${orphan}/`)).toHaveLength(1);
    clock.advance(25 * 3_600_000);
    await service.prune();
    expect(await keys(`${PREFIX}${orphan}/`)).toEqual([]);
    expect((await service.list()).map((backup) => backup.id)).toEqual(listed);
  });
});
