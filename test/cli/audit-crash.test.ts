import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { freshEmail, PASSWORD } from '../identity/support.js';
import { createDataDir, createEngine, startServer } from './process.js';
import type { Engine, Env, RunningServer } from './process.js';

/**
 * A crash in the middle of a burst of audited writes (SIGKILL: no shutdown, no flush): after a
 * restart on the same data, every write the server acknowledged has its entry, and the chain has
 * no gap and verifies (GET .../audit/verify; the CLI's verify is tested in audit-cli.test.ts). Writes that were not acknowledged may or may not be there, never half.
 */
describe('the audit log across a crash', () => {
  let data: Awaited<ReturnType<typeof createDataDir>>;
  let engine: Engine;
  let env: Env;
  let server: RunningServer | null = null;

  beforeAll(async () => {
    data = await createDataDir();
    engine = await createEngine();
    env = {
      RAMPART_DATA_DIR: join(data.dir, 'data'),
      RAMPART_ROOT_KEY: TEST_ROOT_KEY,
      RAMPART_RATE_LIMIT_PER_IP: '1000000',
      RAMPART_RATE_LIMIT_AUTH_PER_IP: '1000000',
      RAMPART_RATE_LIMIT_PER_ACCOUNT: '1000000',
      ...engine.env,
    };
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    await engine.drop();
    await data.remove();
  });

  async function call(method: string, path: string, token: string | null, body?: unknown): Promise<Response> {
    return fetch(`${server!.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async function json<T>(response: Promise<Response>, status: number): Promise<T> {
    const answered = await response;
    const text = await answered.text();
    expect(answered.status, text).toBe(status);
    return JSON.parse(text) as T;
  }

  it('keeps every acknowledged entry and a valid chain after SIGKILL mid-burst', async () => {
    server = await startServer(env);
    const email = freshEmail('crash');
    await json(call('POST', '/v1/auth/signup', null, { email, password: PASSWORD }), 201);
    const { access_token: token } = await json<{ access_token: string }>(call('POST', '/v1/auth/login', null, { email, password: PASSWORD }), 200);
    const { id: org } = await json<{ id: string }>(call('POST', '/v1/orgs', token, { name: 'Crash Test' }), 201);
    const { key } = await json<{ key: string }>(call('POST', `/v1/orgs/${org}/api-keys`, token, { name: 'writer', scopes: ['audit:write'] }), 201);

    // Settings changes (an action with its entry) and host events (group-committed), 8 at a time,
    // until the server dies; the kill comes once 60 writes were acknowledged.
    const acknowledged = { settings: new Set<string>(), events: new Set<number>() };
    let next = 0;
    let killed = false;
    // Anything but success before the kill is a bug in the test set-up, not a crash effect.
    const refusals: string[] = [];
    const running = server;
    async function writer(): Promise<void> {
      while (!killed && refusals.length === 0) {
        const index = next++;
        try {
          if (index % 2 === 0) {
            const name = `burst ${index}`;
            const response = await call('PATCH', `/v1/orgs/${org}`, token, { name });
            if (response.status === 200) acknowledged.settings.add(name);
            else refusals.push(`${response.status} ${await response.text()}`);
          } else {
            const response = await call('POST', `/v1/orgs/${org}/audit/events`, key, { action: 'burst.written', metadata: { index } });
            if (response.status === 201) acknowledged.events.add(index);
            else refusals.push(`${response.status} ${await response.text()}`);
          }
        } catch {
          return; // the connection died with the server
        }
        if (!killed && acknowledged.settings.size + acknowledged.events.size >= 60) {
          killed = true;
          running.child.kill('SIGKILL');
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, writer));
    expect(refusals).toEqual([]);
    await running.exited;
    expect(acknowledged.settings.size + acknowledged.events.size).toBeGreaterThanOrEqual(60);

    server = await startServer(env);
    const verified = await json<{ valid: boolean; entries: number; head: { seq: number } }>(call('GET', `/v1/orgs/${org}/audit/verify`, token), 200);
    expect(verified.valid).toBe(true);
    const rows: Array<{ seq: number; action: string; metadata: Record<string, unknown> }> = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { data: typeof rows; next_cursor: string | null } = await json(call('GET', `/v1/orgs/${org}/audit?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token), 200);
      rows.push(...page.data);
      cursor = page.next_cursor;
    }
    // Newest first: every seq from the head down to 0, once.
    expect(rows.map((row) => row.seq)).toEqual(rows.map((_, index) => verified.head.seq - index));
    expect(rows.length).toBe(verified.entries);
    const names = new Set(rows.filter((row) => row.action === 'org.settings_changed').map((row) => (row.metadata as { after: { name: string } }).after.name));
    const events = new Set(rows.filter((row) => row.action === 'burst.written').map((row) => (row.metadata as { index: number }).index));
    for (const name of acknowledged.settings) expect(names.has(name), name).toBe(true);
    for (const index of acknowledged.events) expect(events.has(index), String(index)).toBe(true);
    expect(await server.stop()).toBe(0);
    server = null;
  }, 180_000);
});
