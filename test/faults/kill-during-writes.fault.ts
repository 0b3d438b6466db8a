/**
 * Fault (a) of issue 9: `kill -9` of the server in the middle of a burst of audited writes, 20
 * times on one PostgreSQL database. After each restart every write the server acknowledged has its
 * audit entry, the tenant's chain verifies, and the restart time (spawn to ready) is reported.
 * Writes that were not acknowledged may or may not be there — never half, which the chain check
 * would catch. test/cli/audit-crash.test.ts does this once on either engine; this repeats it.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../cli/process.js';
import type { Engine } from '../cli/process.js';
import { reportFault } from './report.js';
import { auditedWrite, createWorkspace, dataDirEnv, emptyAcknowledged, missingEntries, startMeasured, UNTHROTTLED } from './support.js';
import type { Env, RunningServer, Workspace } from './support.js';

const KILLS = 20;
const WRITERS = 8;

describe('kill -9 during a burst of audited writes', () => {
  let dir: string;
  let engine: Engine;
  let env: Env;
  let server: RunningServer | null = null;

  beforeAll(async () => {
    if (!process.env.DATABASE_URL) throw new Error('the fault tests run against PostgreSQL: set DATABASE_URL');
    dir = await mkdtemp(join(tmpdir(), 'rampart-kill-'));
    engine = await createEngine();
    env = { ...UNTHROTTLED, ...dataDirEnv(dir), ...engine.env };
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    await engine?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged write and its entry across ${KILLS} SIGKILLs`, async () => {
    const acked = emptyAcknowledged();
    const restarts: number[] = [];
    let workspace: Workspace | null = null;
    let written = 0;
    for (let round = 0; round <= KILLS; round++) {
      const started = await startMeasured(env);
      server = started.server;
      if (round > 0) restarts.push(started.readyMs);
      workspace ??= await createWorkspace(server.url);
      expect(await missingEntries(server.url, workspace, acked), `after kill ${round}`).toEqual([]);
      if (round === KILLS) break;

      // Kill once a random number of further writes were acknowledged, mid-burst.
      const killAfter = acked.names.size + acked.events.size + randomInt(5, 40);
      const running = server;
      const refusals: string[] = [];
      let killed = false;
      const writer = async (): Promise<void> => {
        while (!killed) {
          const answer = await auditedWrite(running.url, workspace!, `r${round}-w${written++}`, acked);
          if (answer.status <= 0) return; // the connection died with the server
          if (answer.status >= 300 && !killed) refusals.push(`${answer.status} ${answer.text}`);
          if (!killed && acked.names.size + acked.events.size >= killAfter) {
            killed = true;
            running.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, writer));
      await running.exited;
      expect(refusals).toEqual([]);
    }
    expect(await server!.stop()).toBe(0);
    server = null;
    const sorted = [...restarts].sort((x, y) => x - y);
    const summary = {
      kills: KILLS,
      acknowledged_writes: acked.names.size + acked.events.size,
      restart_ms: { min: Math.round(sorted[0]!), median: Math.round(sorted[Math.floor(sorted.length / 2)]!), max: Math.round(sorted.at(-1)!) },
    };
    await reportFault('kill-during-writes', summary);
    expect(summary.acknowledged_writes).toBeGreaterThanOrEqual(KILLS * 5);
  }, 300_000);
});
