import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VerbEvent } from '../../src/cli/events.js';
import { runDatabaseVerb } from '../../src/cli/execute.js';
import { exportVerb } from '../../src/cli/verbs/export.verb.js';
import { VERBS } from '../../src/cli/verbs/index.js';
import { UsageError, VerbError } from '../../src/cli/verb.js';
import type { Json } from '../../src/cli/verb.js';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { privacyClient, usePrivacyApp } from './consent-support.js';
import { ndjson, readZip } from './org-export-support.js';

/** `rampart export` as the CLI and the admin socket run it: a progress bar, the ZIP file, an audit entry. */
describe('rampart export', () => {
  const state = usePrivacyApp(new FakeClock(new Date()));

  function run(options: Record<string, string>, events: VerbEvent[] = []): Promise<Json> {
    const runtime = { config: state.t.config, database: state.t.db.database, rootKey: Buffer.from(TEST_ROOT_KEY, 'base64'), close: async () => undefined };
    return runDatabaseVerb(exportVerb, runtime, { input: { options, positionals: [] }, sink: (event) => events.push(event), verbs: VERBS, host: { kind: 'direct' }, signal: new AbortController().signal });
  }

  it('writes the whole-org ZIP with a progress bar, never over an existing file, and audits it', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    await api.put(org.owner.token, org.id, 'guests', 'g-1', { data: { name: 'Grace Hopper' }, subject_id: 'cust-7' });
    await api.putFile(org.owner.token, org.id, 'badge.pdf', Buffer.from('%PDF badge'));
    const out = join(state.fileDir, 'export.zip');
    const events: VerbEvent[] = [];
    const result = (await run({ org: org.id, out }, events)) as { file: string; items: number; bytes: number };
    expect(result.file).toBe(out);
    expect(result.bytes).toBe((await stat(out)).size);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(events.filter((event) => event.type === 'progress-start').map((event) => (event as { label: string }).label)).toEqual(['Exporting']);
    expect(events.some((event) => event.type === 'progress-stop')).toBe(true);
    const zip = readZip(await readFile(out));
    expect(ndjson(zip.get('vault/records.ndjson'))).toEqual([expect.objectContaining({ key: 'g-1', data: { name: 'Grace Hopper' }, subject_id: 'cust-7' })]);
    expect(zip.get('vault/files/badge.pdf')!.toString()).toBe('%PDF badge');
    expect((await api.auditOf(org.id, 'org_export.requested')).map((entry) => [entry.actor_type, entry.actor_id, (entry.metadata as { via?: string }).via])).toEqual([['system', 'cli', 'cli']]);

    await expect(run({ org: org.id, out })).rejects.toThrow(VerbError);
    await writeFile(join(state.fileDir, 'taken.zip'), 'mine');
    await expect(run({ org: org.id, out: join(state.fileDir, 'taken.zip') })).rejects.toThrow(/exists/);
    expect(await readFile(join(state.fileDir, 'taken.zip'), 'utf8')).toBe('mine');
  });

  it('refuses a missing or malformed org id, and an org that does not exist', async () => {
    await expect(run({})).rejects.toThrow(UsageError);
    await expect(run({ org: 'acme' })).rejects.toThrow(UsageError);
    await expect(run({ org: '00000000-0000-4000-8000-000000000000', out: join(state.fileDir, 'none.zip') })).rejects.toThrow(/no organization/);
  });
});
