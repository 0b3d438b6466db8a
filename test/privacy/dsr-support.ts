import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import type { FakeClock } from '../helpers/clock.js';
import { bearer, drainJobs, freshIp, RELAXED_LIMITS } from '../identity/support.js';
import { vaultClient } from '../vault/support.js';

/** An app with a file store of its own (and the fake clock, when given), for privacy tests. */
export function usePrivacyApp(env: Record<string, string> = {}, options: { clock?: FakeClock } = {}) {
  const state = {} as { t: TestApp; fileDir: string };
  beforeAll(async () => {
    state.fileDir = await mkdtemp(join(tmpdir(), 'rampart-dsr-'));
    state.t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_VAULT_FILE_DIR: state.fileDir, ...env }, options);
  }, 60_000);
  afterAll(async () => {
    await state.t?.close();
    await rm(state.fileDir, { recursive: true, force: true });
  });
  return state;
}

/** Vault calls plus data-subject requests, suppressions and webhooks over app.inject. */
export function dsrClient(t: TestApp) {
  const vault = vaultClient(t);
  const ip = freshIp();
  const call = (token: string, method: InjectOptions['method'], url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ remoteAddress: ip, method, url, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return {
    ...vault,
    call,
    /** An org whose erasures run at once (erasure_grace_days 0) unless `graceDays` says otherwise. */
    async orgWithGrace(graceDays = 0) {
      const org = await vault.org();
      const patched = await call(org.owner.token, 'PATCH', `/v1/orgs/${org.id}`, { erasure_grace_days: graceDays });
      expect(patched.statusCode, patched.body).toBe(200);
      return org;
    },
    create: (token: string, orgId: string, body: Record<string, unknown>) => call(token, 'POST', `/v1/orgs/${orgId}/dsr`, body),
    listRequests: (token: string, orgId: string, query = '') => call(token, 'GET', `/v1/orgs/${orgId}/dsr${query}`),
    getRequest: (token: string, orgId: string, id: string) => call(token, 'GET', `/v1/orgs/${orgId}/dsr/${id}`),
    status: (token: string, orgId: string, id: string, body: Record<string, unknown>) => call(token, 'POST', `/v1/orgs/${orgId}/dsr/${id}/status`, body),
    extend: (token: string, orgId: string, id: string, body: Record<string, unknown>) => call(token, 'POST', `/v1/orgs/${orgId}/dsr/${id}/extension`, body),
    exportOf: (token: string, orgId: string, id: string) => call(token, 'GET', `/v1/orgs/${orgId}/dsr/${id}/export`),
    receipt: (token: string, orgId: string, id: string) => call(token, 'GET', `/v1/orgs/${orgId}/dsr/${id}/receipt`),
    confirm: (token: string, orgId: string, id: string) => call(token, 'POST', `/v1/orgs/${orgId}/dsr/${id}/confirmations`, {}),
    applyCorrections: (token: string, orgId: string, id: string) => call(token, 'POST', `/v1/orgs/${orgId}/dsr/${id}/corrections`),
    /** Creates a request and expects 201; returns its view. */
    async request(token: string, orgId: string, body: Record<string, unknown>) {
      const response = await call(token, 'POST', `/v1/orgs/${orgId}/dsr`, body);
      expect(response.statusCode, response.body).toBe(201);
      return response.json<{ id: string; status: string; due_at: string; created_at: string; subject_id: string; type: string }>();
    },
    runJobs: () => drainJobs(t),
  };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: answers `status` (settable while running)
 * and keeps every request it got.
 */
export async function startReceiver() {
  const received: Received[] = [];
  const state = { status: 200 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = state.status;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    respondWith(status: number) {
      state.status = status;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
