/**
 * Fault (b) of issue 9: PostgreSQL stopped and started again under load, in a cluster this test
 * starts itself. While it is down every request answers 503 `unavailable` with Retry-After (or
 * succeeds, for what needs no database), none takes longer than 5 s, the server recovers without
 * a restart, and every write acknowledged before, during or after is still there with its entry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from './postgres-cluster.js';
import type { Cluster } from './postgres-cluster.js';
import { reportFault } from './report.js';
import { auditedWrite, call, createWorkspace, dataDirEnv, emptyAcknowledged, missingEntries, startMeasured, UNTHROTTLED, waitUntil } from './support.js';
import type { Answer, RunningServer } from './support.js';

const WORKERS = 6;
const HANG_MS = 5000;
const DOWN_MS = 4000;

type Phase = 'up' | 'down' | 'recovering';

/** Counts of each status and error code, with one example text per kind, for a failure message. */
function summarize(answers: Answer[]): string {
  const kinds = new Map<string, { count: number; example: string }>();
  for (const answer of answers) {
    const kind = `${answer.status} ${/"code":"(\w+)"/.exec(answer.text)?.[1] ?? ''}`;
    const seen = kinds.get(kind) ?? { count: 0, example: answer.text.slice(0, 160) };
    seen.count++;
    kinds.set(kind, seen);
  }
  return JSON.stringify(Object.fromEntries(kinds));
}

describe('PostgreSQL stopped under load', () => {
  let dir: string;
  let cluster: Cluster;
  let server: RunningServer | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-pgdown-'));
    cluster = await createCluster();
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    await cluster?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while it is down, never hangs, recovers alone and loses nothing', async () => {
    server = (await startMeasured({ ...UNTHROTTLED, ...dataDirEnv(dir), DATABASE_URL: cluster.url })).server;
    const base = server.url;
    const workspace = await createWorkspace(base);
    const acked = emptyAcknowledged();
    const answers: Array<Answer & { phase: Phase; what: string }> = [];
    let phase: Phase = 'up';
    let stopped = false;
    let sequence = 0;

    const worker = async (): Promise<void> => {
      while (!stopped) {
        const n = sequence++;
        const asPhase = phase;
        const answer =
          n % 2 === 0
            ? await auditedWrite(base, workspace, `w${n}`, acked, HANG_MS + 1000)
            : await call(base, 'GET', `/v1/orgs/${workspace.org}`, { token: workspace.token, deadlineMs: HANG_MS + 1000 });
        answers.push({ ...answer, phase: asPhase, what: n % 2 === 0 ? 'write' : 'read' });
        // A 503 says when to come back; a client that honours it would wait, this one only slows down.
        if (answer.status === 503) await delay(50);
      }
    };
    const workers = Promise.all(Array.from({ length: WORKERS }, worker));

    await waitUntil(() => acked.names.size + acked.events.size >= 30, 'writes before the stop');
    await cluster.stop();
    phase = 'down';
    await delay(DOWN_MS);
    const restartedAt = Date.now();
    await cluster.start();
    phase = 'recovering';
    const before = acked.names.size + acked.events.size;
    await waitUntil(() => acked.names.size + acked.events.size >= before + 30, 'writes after the restart', 60_000).catch((error: unknown) => {
      stopped = true;
      throw new Error(`${String(error)}; answers while recovering: ${summarize(answers.filter((answer) => answer.phase === 'recovering'))}`);
    });
    const recoveredMs = Date.now() - restartedAt;
    stopped = true;
    await workers;

    const unexpected = answers.filter((answer) => ![200, 201, 503].includes(answer.status));
    expect(unexpected.map((answer) => `${answer.phase} ${answer.what}: ${answer.status} ${answer.text.slice(0, 200)}`)).toEqual([]);
    const unavailable = answers.filter((answer) => answer.status === 503);
    expect(unavailable.length, 'some requests met the database down').toBeGreaterThan(0);
    for (const answer of unavailable) {
      expect(answer.headers.get('retry-after'), answer.text).toMatch(/^\d+$/);
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'unavailable' } });
    }
    const slowest = Math.max(...answers.map((answer) => answer.ms));
    expect(slowest, 'no request may hang').toBeLessThan(HANG_MS);
    expect(await missingEntries(base, workspace, acked)).toEqual([]);
    expect((await call(base, 'GET', '/health/ready')).status).toBe(200);
    await reportFault('postgres-down', {
      requests: answers.length,
      unavailable_503: unavailable.length,
      slowest_ms: Math.round(slowest),
      down_ms: DOWN_MS,
      recovered_ms_after_restart: recoveredMs,
      acknowledged_writes: acked.names.size + acked.events.size,
    });
    expect(await server.stop()).toBe(0);
    server = null;
  }, 240_000);
});
