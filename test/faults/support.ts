import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { freshEmail, PASSWORD } from '../identity/support.js';
import { startServer, waitUntil } from '../cli/process.js';
import type { Env, RunningServer } from '../cli/process.js';

/**
 * Shared pieces of the fault tests: real `rampart` server processes (started through tsx, as
 * test/cli does), an HTTP client that never waits longer than a deadline, and a tenant to write to.
 */

/** Limits high enough that a burst is never throttled: the faults, not the limiter, are under test. */
export const UNTHROTTLED: Env = {
  RAMPART_ROOT_KEY: TEST_ROOT_KEY,
  RAMPART_RATE_LIMIT_PER_IP: '1000000',
  RAMPART_RATE_LIMIT_AUTH_PER_IP: '1000000',
  RAMPART_RATE_LIMIT_PER_ACCOUNT: '1000000',
  RAMPART_BACKUP_SCHEDULE: 'off',
  RAMPART_BACKUP_DRILL_SCHEDULE: 'off',
};

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

/** One HTTP call with a hard deadline; a connection failure answers status 0. */
export async function call(base: string, method: string, path: string, options: { token?: string; body?: unknown; deadlineMs?: number } = {}): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.deadlineMs ?? 15_000),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return { status: timedOut ? -1 : 0, headers: new Headers(), text: String(error), ms: performance.now() - started };
  }
}

export async function expectJson<T>(answer: Promise<Answer>, status: number): Promise<T> {
  const answered = await answer;
  if (answered.status !== status) throw new Error(`expected ${status}, got ${answered.status}: ${answered.text}`);
  return JSON.parse(answered.text) as T;
}

export interface Started {
  server: RunningServer;
  /** From spawning the process to the first 200 of /health/ready. */
  readyMs: number;
}

/** Starts a server and measures how long it takes to be ready to serve. */
export async function startMeasured(env: Env): Promise<Started> {
  const started = performance.now();
  const server = await startServer(env);
  await waitUntil(async () => (await call(server.url, 'GET', '/health/ready', { deadlineMs: 2000 })).status === 200, 'the server did not become ready');
  return { server, readyMs: performance.now() - started };
}

export interface Workspace {
  token: string;
  org: string;
  key: string;
}

/** A signed-up owner with an org and an audit-writing API key. */
export async function createWorkspace(base: string): Promise<Workspace> {
  const email = freshEmail('faults');
  await expectJson(call(base, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD } }), 201);
  const { access_token: token } = await expectJson<{ access_token: string }>(call(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } }), 200);
  const { id: org } = await expectJson<{ id: string }>(call(base, 'POST', '/v1/orgs', { token, body: { name: 'Faults Inc' } }), 201);
  const { key } = await expectJson<{ key: string }>(call(base, 'POST', `/v1/orgs/${org}/api-keys`, { token, body: { name: 'writer', scopes: ['audit:write', 'audit:read'] } }), 201);
  return { token, org, key };
}

/** The writes a burst had acknowledged: org renames (an action with its entry) and host events. */
export interface Acknowledged {
  names: Set<string>;
  events: Set<string>;
}

export function emptyAcknowledged(): Acknowledged {
  return { names: new Set(), events: new Set() };
}

/**
 * One audited write, alternating an org rename and a host audit event. Records it in `acked` only
 * when the server answered success; returns the answer.
 */
export async function auditedWrite(base: string, workspace: Workspace, label: string, acked: Acknowledged, deadlineMs?: number): Promise<Answer> {
  const rename = acked.names.size <= acked.events.size;
  const answer = rename
    ? await call(base, 'PATCH', `/v1/orgs/${workspace.org}`, { token: workspace.token, body: { name: label }, ...(deadlineMs ? { deadlineMs } : {}) })
    : await call(base, 'POST', `/v1/orgs/${workspace.org}/audit/events`, { token: workspace.key, body: { action: 'fault.written', metadata: { label } }, ...(deadlineMs ? { deadlineMs } : {}) });
  if (answer.status === 200 && rename) acked.names.add(label);
  if (answer.status === 201 && !rename) acked.events.add(label);
  return answer;
}

/**
 * Checks, through the API, that the chain verifies and that every acknowledged write has its
 * entry. Returns what is missing (empty when nothing is).
 */
export async function missingEntries(base: string, workspace: Workspace, acked: Acknowledged): Promise<string[]> {
  const verified = await expectJson<{ valid: boolean; entries: number }>(call(base, 'GET', `/v1/orgs/${workspace.org}/audit/verify`, { token: workspace.token }), 200);
  const problems: string[] = verified.valid ? [] : ['the audit chain does not verify'];
  const names = new Set<string>();
  const events = new Set<string>();
  type Page = { data: Array<{ action: string; metadata: Record<string, unknown> }>; next_cursor: string | null };
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page: Page = await expectJson<Page>(
      call(base, 'GET', `/v1/orgs/${workspace.org}/audit?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: workspace.token }),
      200,
    );
    for (const row of page.data) {
      if (row.action === 'org.settings_changed') names.add((row.metadata as { after: { name: string } }).after.name);
      if (row.action === 'fault.written') events.add((row.metadata as { label: string }).label);
    }
    cursor = page.next_cursor;
  }
  for (const name of acked.names) if (!names.has(name)) problems.push(`rename "${name}" has no entry`);
  for (const label of acked.events) if (!events.has(label)) problems.push(`event "${label}" has no entry`);
  return problems;
}

export function dataDirEnv(dir: string): Env {
  return { RAMPART_DATA_DIR: join(dir, 'data') };
}

export { waitUntil };
export type { Env, RunningServer };
