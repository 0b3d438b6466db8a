/**
 * Fault (c) of issue 9: Redis (a server this test starts on a port of its own) killed under load.
 * Sessions revoked before and during the outage stay refused (revocation lives in PostgreSQL;
 * Redis only shares limits), the sign-in rate limit keeps refusing (each node falls back to its
 * own counters), nothing answers 5xx, and all of it still holds once Redis is back.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, freePort } from '../cli/process.js';
import type { Engine } from '../cli/process.js';
import { freshEmail, PASSWORD } from '../identity/support.js';
import { reportFault } from './report.js';
import { call, dataDirEnv, expectJson, startMeasured, UNTHROTTLED, waitUntil } from './support.js';
import type { Answer, RunningServer } from './support.js';

const AUTH_LIMIT = 20;

function startRedis(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

describe('Redis killed under load', () => {
  let dir: string;
  let engine: Engine;
  let redis: ChildProcess | null = null;
  let server: RunningServer | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-redisdown-'));
    engine = await createEngine();
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    redis?.kill('SIGKILL');
    await engine?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps revoked sessions revoked and sign-in limited, with no 5xx', async () => {
    const port = await freePort();
    redis = startRedis(port);
    server = (
      await startMeasured({ ...UNTHROTTLED, ...dataDirEnv(dir), ...engine.env, REDIS_URL: `redis://127.0.0.1:${port}`, RAMPART_RATE_LIMIT_AUTH_PER_IP: String(AUTH_LIMIT) })
    ).server;
    const base = server.url;
    await waitUntil(async () => (await call(base, 'GET', '/health/ready')).text.includes('"redis":"ok"'), 'Redis was not ready');

    const email = freshEmail('redisdown');
    await expectJson(call(base, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD } }), 201);
    const signIn = () => expectJson<{ access_token: string }>(call(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } }), 200);
    const [revokedBefore, revokedDuring, kept] = [await signIn(), await signIn(), await signIn()].map((tokens) => tokens.access_token) as [string, string, string];
    expect((await call(base, 'POST', '/v1/auth/logout', { token: revokedBefore })).status).toBe(204);

    const answers: Answer[] = [];
    const me = async (token: string) => {
      const answer = await call(base, 'GET', '/v1/me', { token });
      answers.push(answer);
      return answer.status;
    };

    const exited = once(redis, 'exit');
    redis.kill('SIGKILL');
    await exited;
    await waitUntil(async () => (await call(base, 'GET', '/health/ready')).text.includes('"redis":"down"'), 'the server did not notice Redis was down');

    expect(await me(revokedBefore)).toBe(401);
    expect(await me(kept)).toBe(200);
    expect((await call(base, 'POST', '/v1/auth/logout', { token: revokedDuring })).status).toBe(204);
    expect(await me(revokedDuring)).toBe(401);

    // Password guessing from one address while Redis is down: the limit still applies.
    const guesses = await Promise.all(
      Array.from({ length: AUTH_LIMIT * 3 }, async () => {
        const answer = await call(base, 'POST', '/v1/auth/login', { body: { email, password: 'wrong guess of a password' } });
        answers.push(answer);
        return answer.status;
      }),
    );
    const limited = guesses.filter((status) => status === 429).length;
    expect(limited, 'sign-in limits must not switch off').toBeGreaterThan(0);
    // Fixed one-minute windows: a burst straddling a boundary may see two windows' worth.
    expect(guesses.filter((status) => status !== 429).length).toBeLessThanOrEqual(AUTH_LIMIT * 2);

    redis = startRedis(port);
    await waitUntil(async () => (await call(base, 'GET', '/health/ready')).text.includes('"redis":"ok"'), 'the server did not reconnect to Redis');
    expect(await me(revokedBefore)).toBe(401);
    expect(await me(revokedDuring)).toBe(401);
    expect(await me(kept)).toBe(200);

    const failures = answers.filter((answer) => answer.status >= 500 || answer.status <= 0);
    expect(failures.map((answer) => `${answer.status} ${answer.text.slice(0, 200)}`)).toEqual([]);
    await reportFault('redis-down', { requests: answers.length, guesses: guesses.length, limited_429: limited });
    expect(await server.stop()).toBe(0);
    server = null;
  }, 180_000);
});
