import { lstat, readFile, stat } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataDir, createEngine, expectOneLine, runCli, runServerToExit, startServer, waitUntil } from './process.js';
import type { Engine, Env, RunningServer } from './process.js';

/**
 * The server as an operator runs it: `npm start` with no configuration, then again on the same
 * data folder, stopped with SIGTERM. One data folder goes through the whole life in order; the
 * root key comes from its file here, since the file is part of what is tested.
 */
describe('the server on embedded defaults', () => {
  let data: Awaited<ReturnType<typeof createDataDir>>;
  let engine: Engine;
  let env: Env;
  let dataDir: string;
  let server: RunningServer | null = null;
  let firstKid: string;
  let firstRootKey: string;

  beforeAll(async () => {
    data = await createDataDir();
    engine = await createEngine();
    dataDir = join(data.dir, 'data');
    env = { RAMPART_DATA_DIR: dataDir, ...engine.env };
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    await engine.drop();
    await data.remove();
  });

  it('first start creates the data folder, the database and a 0600 root key, then serves', async () => {
    server = await startServer(env);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    const keyFile = await stat(join(dataDir, 'root.key'));
    expect(keyFile.mode & 0o777).toBe(0o600);
    firstRootKey = await readFile(join(dataDir, 'root.key'), 'utf8');
    expect(Buffer.from(firstRootKey.trim(), 'base64')).toHaveLength(32);
    if (engine.kind === 'pglite') expect((await stat(join(dataDir, 'pgdata'))).isDirectory()).toBe(true);

    const socket = await lstat(join(dataDir, 'admin.sock'));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(socket.uid).toBe(process.getuid?.());

    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys).toHaveLength(1);
    firstKid = jwks.keys[0]!.kid;
  });

  it('runs CLI verbs inside the running server, through its admin socket', async () => {
    const [status, migrate, mail, badLimit] = await Promise.all([
      runCli(['status', '--json'], env),
      runCli(['migrate'], env),
      runCli(['mail', '--json'], env),
      runCli(['mail', '--limit', '0'], env),
    ]);

    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as Record<string, Record<string, unknown>>;
    expect(report.server).toMatchObject({ running: true, pid: server!.child.pid, url: server!.url });
    expect(report.database).toMatchObject({ kind: engine.kind });
    expect(report.migrations).toMatchObject({ pending: 0, pendingNames: [] });
    expect(report.migrations!.applied).toBeGreaterThan(0);
    expect(report.env).toBe('development');
    expect(report.jobs).toEqual({ pending: expect.any(Number), running: expect.any(Number), done: expect.any(Number), dead: expect.any(Number) });

    // The server migrated at start; migrate through it finds nothing left, and the lock did not stop it.
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/Nothing to apply: the database is up to date/);

    expect(mail.code, mail.stderr).toBe(0);
    expect(JSON.parse(mail.stdout)).toEqual({ messages: expect.any(Array) });

    // The verb's own validation ran in the server; its usage error comes back as one line and exit 2.
    expect(badLimit.code).toBe(2);
    expectOneLine(badLimit.stderr, /--limit must be a whole number from 1 to 1000, got "0"/);
    expect(server!.stdout()).toMatch(/"verb":"status","msg":"admin verb finished"/);
  });

  it('finishes a request in flight at SIGTERM, then exits 0 and releases the data folder', async () => {
    const running = server!;
    const port = Number(new URL(running.url).port);
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Headers now, body later: the request is in the server's hands but cannot finish yet.
    const body = JSON.stringify({ note: 'in flight' });
    socket.write(`POST /in-flight HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await waitUntil(() => /"url":"\/in-flight"[^\n]*"msg":"incoming request"/.test(running.stdout()), 'the server did not receive the request');

    running.child.kill('SIGTERM');
    await waitUntil(() => running.stdout().includes('shutting down'), 'the server did not start shutting down');
    socket.write(body.slice(5));
    await closed;

    expect(response).toMatch(/^HTTP\/1\.1 404 /);
    expect(response).toContain('"code":"not_found"');
    expect(await running.exited).toBe(0);
    expect(running.stdout()).toContain('shut down cleanly');
    await expect(lstat(join(dataDir, 'admin.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(dataDir, 'rampart.pid'))).rejects.toMatchObject({ code: 'ENOENT' });
    server = null;
  });

  it('a second start reuses the database, the root key and the signing key', async () => {
    server = await startServer(env);
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((key) => key.kid)).toEqual([firstKid]);
    expect(await readFile(join(dataDir, 'root.key'), 'utf8')).toBe(firstRootKey);
    expect(await server.stop()).toBe(0);
    server = null;
  });

  it('a port in use ends start-up with one line and leaves the data folder usable', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const { code, stderr } = await runServerToExit({ ...env, RAMPART_PORT: String(port) });
      expect(code).toBe(1);
      expectOneLine(stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use.*RAMPART_PORT`));
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    // The failed start closed the database and released the lock: the CLI opens it directly.
    const status = await runCli(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ server: { running: false }, migrations: { pending: 0 } });
  });
});
