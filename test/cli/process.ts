import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../src/platform/paths.js';
import { adminQuery, withDatabase } from '../helpers/global-setup.js';

/**
 * Real `rampart` processes for end-to-end tests of start-up, shutdown and the CLI. Nothing here
 * sleeps for a fixed time: waits poll what the process printed, with a deadline.
 */

export type Env = Record<string, string>;

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited (null when killed by a signal). */
  exited: Promise<number | null>;
}

const DEADLINE_MS = 60_000;

/** Starts `node --import tsx <script>` with only the environment given (plus PATH and HOME). */
export function spawnNode(script: 'src/main.ts' | 'src/cli/main.ts', args: readonly string[], env: Env): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', RAMPART_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to completion. */
export async function runCli(args: readonly string[], env: Env): Promise<CliRun> {
  const run = spawnNode('src/cli/main.ts', args, env);
  const code = await withDeadline(run.exited, `rampart ${args.join(' ')} did not exit`);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Runs the server to completion (for start-ups that must fail). */
export async function runServerToExit(env: Env): Promise<CliRun> {
  const run = spawnNode('src/main.ts', [], env);
  const code = await withDeadline(run.exited, 'the server did not exit');
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

export interface RunningServer extends Spawned {
  url: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the server and waits for the line that says it listens (printed after the admin channel is up). */
export async function startServer(env: Env): Promise<RunningServer> {
  const server = spawnNode('src/main.ts', [], { RAMPART_PORT: '0', ...env });
  let url: string | undefined;
  await waitUntil(
    () => {
      url = /listening on (https?:\/\/\S+)/.exec(server.stdout())?.[1];
      if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode}): ${server.stderr()}`);
      return url !== undefined;
    },
    'the server did not print its URL',
  );
  return {
    ...server,
    url: url!,
    async stop() {
      server.child.kill('SIGTERM');
      return withDeadline(server.exited, 'the server did not exit after SIGTERM');
    },
  };
}

/** Polls `check` until it returns true; fails with `what` at the deadline. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, deadlineMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${deadlineMs} ms`);
    await delay(25);
  }
}

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The operator sees exactly one line, `rampart: ...`, and no stack trace. */
export function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rampart: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

/** A temporary data folder, removed by the returned function. */
export async function createDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-cli-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

export interface Engine {
  kind: 'pglite' | 'postgres';
  /** What spawned processes need to use this engine: DATABASE_URL of a fresh database, or nothing. */
  env: Env;
  drop(): Promise<void>;
}

/**
 * The engine of this run: PGlite in the data folder by default; with DATABASE_URL, a fresh empty
 * PostgreSQL database (not the migrated template: these tests watch migrations happen).
 */
export async function createEngine(): Promise<Engine> {
  const base = process.env.DATABASE_URL;
  if (!base) return { kind: 'pglite', env: {}, drop: async () => undefined };
  const name = `rampart_cli_${randomBytes(6).toString('hex')}`;
  await adminQuery(base, `create database ${name}`);
  return {
    kind: 'postgres',
    env: { DATABASE_URL: withDatabase(base, name) },
    drop: () => adminQuery(base, `drop database if exists ${name} with (force)`),
  };
}
