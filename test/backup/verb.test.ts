import { randomUUID } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerbEvent } from '../../src/cli/events.js';
import { runDatabaseVerb } from '../../src/cli/execute.js';
import { backupVerb } from '../../src/cli/verbs/backup.verb.js';
import { VERBS } from '../../src/cli/verbs/index.js';
import { VerbError } from '../../src/cli/verb.js';
import { createPlatformStaff } from '../../src/identity/index.js';
import type { Json } from '../../src/cli/verb.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { backupConfig, makeFolders, ROOT_KEY } from './support.js';
import type { BackupFolders } from './support.js';

/** `rampart backup` as the CLI and the admin socket run it: progress events, results, failures. */
describe('rampart backup', () => {
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

  async function run(positionals: string[], events: VerbEvent[] = []): Promise<Json> {
    const runtime = { config: backupConfig(folders, source.url), database: source.database, rootKey: ROOT_KEY, close: async () => undefined };
    return runDatabaseVerb(backupVerb, runtime, {
      input: { options: {}, positionals },
      sink: (event) => events.push(event),
      verbs: VERBS,
      host: { kind: 'direct' },
      signal: new AbortController().signal,
    });
  }

  it('create draws progress over the tables and the targets; list and verify see the backup', async () => {
    const events: VerbEvent[] = [];
    const created = (await run(['create'], events)) as { id: string; targets: string[] };
    const bars = events.filter((event): event is Extract<VerbEvent, { type: 'progress-start' }> => event.type === 'progress-start');
    expect(bars.map((bar) => bar.label)).toEqual(['Backing up tables', 'Verifying targets']);
    expect(events.filter((event) => event.type === 'progress-stop')).toHaveLength(2);
    expect(created.targets).toHaveLength(2);

    const listed = (await run(['list'])) as { backups: Array<{ id: string }> };
    expect(listed.backups.map((backup) => backup.id)).toEqual([created.id]);
    expect(await run(['verify', created.id])).toMatchObject({ action: 'verify', id: created.id });
    expect(backupVerb.render((await run(['verify', created.id])) as never)).toMatch(/verified/);
  });

  it('verify fails (exit 1) naming the part and chunk of a changed byte', async () => {
    const [backup] = ((await run(['list'])) as { backups: Array<{ id: string }> }).backups;
    const dir = join(backupConfig(folders, source.url).backup.dir, backup!.id);
    const part = (await readdir(dir)).find((file) => file.endsWith('-signing_keys.ndjson.gz.enc'))!;
    const handle = await open(join(dir, part), 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, 30);
    await handle.close();
    await expect(run(['verify', backup!.id])).rejects.toThrow(VerbError);
    await expect(run(['verify', backup!.id])).rejects.toThrow(new RegExp(`${part}, chunk 0: authentication failed`));
  });

  it('drill fails (exit 1) when there is nothing to restore, and queues a mail to each active staff member', async () => {
    const empty = await makeFolders();
    const staff = await createPlatformStaff(source.database.db, backupConfig(empty, source.url).identity.argon2, { email: `ops-${randomUUID()}@example.com`, name: null });
    try {
      const runtime = { config: backupConfig(empty, source.url), database: source.database, rootKey: ROOT_KEY, close: async () => undefined };
      const drilling = runDatabaseVerb(backupVerb, runtime, { input: { options: {}, positionals: ['drill'] }, sink: () => undefined, verbs: VERBS, host: { kind: 'direct' }, signal: new AbortController().signal });
      await expect(drilling).rejects.toThrow(VerbError);
      await expect(drilling).rejects.toThrow(/Drill FAILED \(recorded as [0-9a-f-]{36}\): there is no backup to restore/);
      const queued = await source.database.db.selectFrom('jobs').select(['name', 'idempotency_key']).where('idempotency_key', 'like', `mail:backup-drill-failed:%:${staff.email}`).execute();
      expect(queued).toEqual([{ name: 'mail.send', idempotency_key: expect.stringMatching(/^mail:backup-drill-failed:/) }]);
    } finally {
      await empty.remove();
    }
  });

  it('answers a missing id or target as usage errors', async () => {
    await expect(run(['verify'])).rejects.toThrow(/name the backup/);
    await expect(run(['restore', '20261130T000000000Z-0badf00d'])).rejects.toThrow(/--into/);
    await expect(run(['shred'])).rejects.toThrow(/say what to do/);
  });
});
