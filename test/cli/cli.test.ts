import { chown, lstat, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERBS } from '../../src/cli/verbs/index.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime } from '../../src/runtime.js';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { createDataDir, createEngine, expectOneLine, runCli, spawnNode, waitUntil } from './process.js';
import type { Engine, Env } from './process.js';

/**
 * The `rampart` command without a server: verbs open the database themselves. (Verbs through a
 * running server are covered in server-lifecycle.test.ts.) One fresh data folder and database go
 * from empty to migrated in order.
 */
describe('rampart CLI', () => {
  let data: Awaited<ReturnType<typeof createDataDir>>;
  let engine: Engine;
  let env: Env;
  let dataDir: string;
  let socketPath: string;

  beforeAll(async () => {
    data = await createDataDir();
    engine = await createEngine();
    dataDir = join(data.dir, 'data');
    socketPath = join(dataDir, 'admin.sock');
    env = { RAMPART_DATA_DIR: dataDir, RAMPART_ROOT_KEY: TEST_ROOT_KEY, ...engine.env };
  });
  afterAll(async () => {
    await engine.drop();
    await data.remove();
  });

  describe.concurrent('the command line itself', () => {
    it('help lists every verb, help <verb> shows its options, --json gives the same as data', async () => {
      const [list, one, json] = await Promise.all([runCli(['help'], env), runCli(['help', 'mail'], env), runCli(['--json', 'help'], env)]);
      expect(list.code).toBe(0);
      for (const verb of VERBS) {
        expect(list.stdout).toMatch(new RegExp(`^  ${verb.name} `, 'm'));
        expect(list.stdout).toContain(verb.summary);
      }
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/^Usage: rampart mail \[--limit <n>\]/);
      expect(one.stdout).toMatch(/--limit, -n +How many/);
      expect(json.code).toBe(0);
      expect((JSON.parse(json.stdout) as { verbs: Array<{ name: string }> }).verbs.map((verb) => verb.name)).toEqual(VERBS.map((verb) => verb.name));
    });

    it('an unknown verb exits 2 with one error line, then the help', async () => {
      const [human, json] = await Promise.all([runCli(['frobnicate'], env), runCli(['frobnicate', '--json'], env)]);
      expect(human.code).toBe(2);
      expect(human.stdout).toBe('');
      expect(human.stderr.split('\n')[0]).toBe('rampart: unknown verb "frobnicate"');
      expect(human.stderr).toMatch(/^Verbs:$/m);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'usage', message: 'unknown verb "frobnicate"' } });
    });

    it('an unknown option exits 2 before anything is opened', async () => {
      const { code, stderr } = await runCli(['status', '--frobnicate'], env);
      expect(code).toBe(2);
      expectOneLine(stderr, /status: Unknown option '--frobnicate'; see rampart help status/);
    });
  });

  it('status --json on a new data folder: nothing applied, no server', async () => {
    const { code, stdout, stderr } = await runCli(['status', '--json'], env);
    expect(code, stderr).toBe(0);
    const status = JSON.parse(stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      env: 'development',
      dataDir,
      database: { kind: engine.kind },
      migrations: { applied: 0, latest: null },
      jobs: null,
      server: { running: false, pid: null, url: null },
    });
    expect((status.migrations as { pending: number }).pending).toBeGreaterThan(0);
    expect(JSON.stringify(status)).not.toMatch(/password|:[^/@]+@/);
  });

  it('a verb that needs the schema fails with one line until migrate has run', async () => {
    const { code, stdout, stderr } = await runCli(['mail'], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expectOneLine(stderr, /not applied to this database yet; run rampart migrate first/);
  });

  it('migrate applies every pending migration directly and reports each', async () => {
    const { code, stdout, stderr } = await runCli(['migrate'], env);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Applied 0001_foundation$/m);
    expect(stdout).toMatch(/^Applied \d+ migrations?; the database is up to date/m);
    // No terminal, no bars: nothing but the outcome reaches stderr.
    expect(stderr).toBe('');
  });

  it('keys rotate retires the signing key and creates a successor, both published', async () => {
    const first = await runCli(['keys', 'rotate', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['keys', 'rotate', '--json'], env);
    expect(second.code, second.stderr).toBe(0);
    const { kid, retired } = JSON.parse(second.stdout) as { kid: string; retired: string[] };
    expect(retired).toEqual([JSON.parse(first.stdout).kid]);
    expect(kid).not.toBe(retired[0]);
    const bare = await runCli(['keys'], env);
    expect(bare.code).toBe(2);
    expectOneLine(bare.stderr, /rampart keys rotate/);
  });

  it('admin create makes a staff account once, showing its initial password once; admin disable ends it', async () => {
    const created = await runCli(['admin', 'create', '--email', 'Ops@Vendor.test', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toEqual({
      action: 'created',
      id: expect.any(String),
      email: 'ops@vendor.test',
      initial_password: expect.stringMatching(/^([a-z2-9]{6}-){3}[a-z2-9]{6}$/),
    });
    const again = await runCli(['admin', 'create', '--email', 'ops@vendor.test'], env);
    expect(again.code).not.toBe(0);
    expectOneLine(again.stderr, /already exists/);
    const missing = await runCli(['admin', 'create'], env);
    expect(missing.code).toBe(2);
    expectOneLine(missing.stderr, /--email is required/);
    const disabled = await runCli(['admin', 'disable', '--email', 'ops@vendor.test', '--json'], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ action: 'disabled', email: 'ops@vendor.test', sessions_revoked: 0 });
  });

  it('mail --json lists the development outbox, newest first', async () => {
    const runtime = await openRuntime(loadConfig(env), { migrate: false });
    try {
      await runtime.database.db
        .insertInto('mail_outbox')
        .values([
          { job_id: 1, to_address: 'first@example.test', subject: 'First', body_text: 'one' },
          { job_id: 2, to_address: 'second@example.test', subject: 'Second', body_text: 'two\nlines' },
        ])
        .execute();
    } finally {
      await runtime.close();
    }
    const [json, human] = await Promise.all([runCli(['mail', '--json', '--limit', '1'], env), runCli(['mail'], env)]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      messages: [{ id: expect.any(Number), to: 'second@example.test', subject: 'Second', text: 'two\nlines', createdAt: expect.any(String) }],
    });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/to second@example\.test\nSubject: Second\n\n {2}two\n {2}lines\n\n#\d+ .* to first@example\.test/);
  });

  it('removes a socket left by a server that died, and opens the database itself', async () => {
    await leaveStaleSocket(socketPath);
    const { code, stdout, stderr } = await runCli(['status'], env);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Migrations +\d+ applied .*none pending$/m);
    expect(stdout).toMatch(/^Jobs +0 pending, 0 running, 0 done, 0 dead$/m);
    expect(stdout).toMatch(/^Server +not running on this data folder$/m);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a file in the socket\'s place that is not a socket', async () => {
    await writeFile(socketPath, 'not a socket');
    try {
      const { code, stderr } = await runCli(['status'], env);
      expect(code).toBe(1);
      expectOneLine(stderr, /admin\.sock is not a socket/);
    } finally {
      await rm(socketPath, { force: true });
    }
  });

  // Only root can hand a socket to another user; as anyone else this situation cannot be staged.
  it.runIf(process.getuid?.() === 0)('refuses an admin socket owned by another user', async () => {
    const impostor = await listenOn(socketPath);
    try {
      await chown(socketPath, 65534, 65534);
      const { code, stderr } = await runCli(['status'], env);
      expect(code).toBe(1);
      expectOneLine(stderr, /admin\.sock belongs to uid 65534, not to this user \(uid 0\); refusing to use it/);
    } finally {
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  });

  // The embedded database's lock: a verb waits for the process holding it (a server still starting).
  it.runIf(!process.env.DATABASE_URL)('waits while another live process holds the data folder, then runs', async () => {
    const lock = join(dataDir, 'rampart.pid');
    await writeFile(lock, String(process.pid));
    const cli = spawnNode('src/cli/main.ts', ['status'], env);
    try {
      await waitUntil(() => cli.stdout().includes(`Waiting for process ${process.pid}`), 'the CLI did not wait for the lock');
    } finally {
      await rm(lock, { force: true });
    }
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(/^Server +not running/m);
  });
});

function listenOn(path: string): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** What a crash leaves: a socket file nobody accepts on (bound elsewhere, moved, then closed). */
async function leaveStaleSocket(path: string): Promise<void> {
  const bound = `${path}.stale`;
  const server = await listenOn(bound);
  await rename(bound, path);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  expect((await lstat(path)).isSocket()).toBe(true);
}
