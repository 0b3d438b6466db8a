import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { createDataDir, expectOneLine, freePort, runCli, runServerToExit } from './process.js';
import type { Env } from './process.js';

/**
 * Mistakes an operator makes at start-up: each ends the server with exit 1 and one line that says
 * what to change, never a stack. The CLI reads the same configuration and reports the same line.
 * None of these gets as far as opening the database, so they run side by side.
 */
describe.concurrent('start-up failures are one clear line', () => {
  let data: Awaited<ReturnType<typeof createDataDir>>;
  let env: Env;

  beforeAll(async () => {
    data = await createDataDir();
    env = { RAMPART_DATA_DIR: join(data.dir, 'data'), RAMPART_ROOT_KEY: TEST_ROOT_KEY };
    await writeFile(join(data.dir, 'not-a-folder'), '');
    await mkdir(join(data.dir, 'a-folder'));
    await writeFile(join(data.dir, 'not-pem'), 'not a certificate\n');
  });
  afterAll(async () => data.remove());

  it('names RAMPART_PORT when it is not a port, in the server and the CLI', async () => {
    for (const run of [runServerToExit({ ...env, RAMPART_PORT: 'abc' }), runCli(['status'], { ...env, RAMPART_PORT: 'abc' })]) {
      const { code, stderr } = await run;
      expect(code).toBe(1);
      expectOneLine(stderr, /RAMPART_PORT must be a whole number .*"abc"/);
    }
  });

  it('refuses a data folder it cannot create, in the server and the CLI', async () => {
    const blocked = { ...env, RAMPART_DATA_DIR: join(data.dir, 'not-a-folder', 'data') };
    for (const run of [runServerToExit(blocked), runCli(['migrate'], blocked)]) {
      const { code, stderr } = await run;
      expect(code).toBe(1);
      expectOneLine(stderr, /Cannot use data folder .*not-a-folder\/data .*RAMPART_DATA_DIR/);
    }
  });

  it('refuses production without TLS', async () => {
    const { code, stderr } = await runServerToExit({ ...env, RAMPART_ENV: 'production' });
    expect(code).toBe(1);
    expectOneLine(stderr, /production requires TLS.*RAMPART_TLS_CERT/);
  });

  it('refuses production without an explicit root key', async () => {
    const { RAMPART_ROOT_KEY: _key, ...withoutKey } = env;
    const { code, stderr } = await runServerToExit({ ...withoutKey, RAMPART_ENV: 'production', RAMPART_TRUSTED_PROXIES: '127.0.0.1' });
    expect(code).toBe(1);
    expectOneLine(stderr, /production requires an explicit root key.*RAMPART_ROOT_KEY_FILE/);
  });

  it('refuses production without SMTP', async () => {
    const { code, stderr } = await runServerToExit({ ...env, RAMPART_ENV: 'production', RAMPART_TRUSTED_PROXIES: '127.0.0.1', RAMPART_PUBLIC_URL: 'https://auth.vendor.test' });
    expect(code).toBe(1);
    expectOneLine(stderr, /production requires RAMPART_SMTP_URL/);
  });

  it('names the TLS file it cannot read, before touching the database', async () => {
    const missing = await runServerToExit({ ...env, RAMPART_TLS_CERT: join(data.dir, 'missing.pem'), RAMPART_TLS_KEY: join(data.dir, 'not-pem') });
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, /Cannot read RAMPART_TLS_CERT file .*missing\.pem \(ENOENT\)/);

    const folder = await runServerToExit({ ...env, RAMPART_TLS_CERT: join(data.dir, 'not-pem'), RAMPART_TLS_KEY: join(data.dir, 'a-folder') });
    expect(folder.code).toBe(1);
    expectOneLine(folder.stderr, /Cannot read RAMPART_TLS_KEY file .*a-folder \(EISDIR\)/);

    const garbage = await runServerToExit({ ...env, RAMPART_TLS_CERT: join(data.dir, 'not-pem'), RAMPART_TLS_KEY: join(data.dir, 'not-pem') });
    expect(garbage.code).toBe(1);
    expectOneLine(garbage.stderr, /RAMPART_TLS_CERT and RAMPART_TLS_KEY must be a PEM certificate and its private key/);
  });

  it('names DATABASE_URL when PostgreSQL does not answer, without its password', async () => {
    const port = await freePort();
    const unreachable = { ...env, DATABASE_URL: `postgres://rampart:pw-s3cret-9f2@127.0.0.1:${port}/rampart` };
    for (const run of [runServerToExit(unreachable), runCli(['status'], unreachable)]) {
      const { code, stdout, stderr } = await run;
      expect(code).toBe(1);
      expectOneLine(stderr, new RegExp(`Cannot use PostgreSQL at DATABASE_URL \\(postgres://rampart@127\\.0\\.0\\.1:${port}/rampart\\): connection refused`));
      expect(stdout + stderr).not.toContain('pw-s3cret-9f2');
    }
  });

  it.runIf(process.env.DATABASE_URL)('names a PostgreSQL database that does not exist', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = '/rampart_no_such_database';
    const { code, stderr } = await runServerToExit({ ...env, DATABASE_URL: url.toString() });
    expect(code).toBe(1);
    expectOneLine(stderr, /DATABASE_URL .*rampart_no_such_database.*does not exist/);
  });
});
