import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import type { Clock } from '../../src/platform/clock.js';
import { afterAll, beforeAll } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { apiKeyClient } from '../tenancy/api-key-support.js';
import { bearer, freshIp, RELAXED_LIMITS } from '../identity/support.js';

/** A vault test app with a file store of its own, and small limits so the 413s are cheap to reach. */
export function useVaultApp(env: Record<string, string> = {}, options: { clock?: Clock } = {}) {
  const state = {} as { t: TestApp; fileDir: string };
  beforeAll(async () => {
    state.fileDir = await mkdtemp(join(tmpdir(), 'rampart-vault-'));
    state.t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_VAULT_FILE_DIR: state.fileDir, RAMPART_VAULT_MAX_RECORD_BYTES: '65536', RAMPART_VAULT_MAX_FILE_BYTES: '1048576', ...env }, options);
  });
  afterAll(async () => {
    await state.t?.close();
    await rm(state.fileDir, { recursive: true, force: true });
  });
  return state;
}

export type Org = Awaited<ReturnType<ReturnType<typeof apiKeyClient>['org']>>;

/** Org set-up and vault calls over app.inject, from an address of the client's own. */
export function vaultClient(t: TestApp) {
  const keys = apiKeyClient(t);
  const ip = freshIp();
  const inject = (options: InjectOptions) => t.app.inject({ remoteAddress: ip, ...options });
  return {
    org: () => keys.org(),
    /** An API key of `org` with `scopes`, issued by its owner; returns the bearer token. */
    async key(org: Org, scopes: string[]): Promise<string> {
      return (await keys.issue(org.owner, org.id, { scopes })).key;
    },
    put: (token: string, orgId: string, collection: string, key: string, body: Record<string, unknown>) =>
      inject({ method: 'PUT', url: `/v1/orgs/${orgId}/records/${collection}/${key}`, headers: bearer(token), payload: body }),
    get: (token: string, orgId: string, collection: string, key: string) => inject({ method: 'GET', url: `/v1/orgs/${orgId}/records/${collection}/${key}`, headers: bearer(token) }),
    list: (token: string, orgId: string, collection: string, query = '') => inject({ method: 'GET', url: `/v1/orgs/${orgId}/records/${collection}${query}`, headers: bearer(token) }),
    remove: (token: string, orgId: string, collection: string, key: string) => inject({ method: 'DELETE', url: `/v1/orgs/${orgId}/records/${collection}/${key}`, headers: bearer(token) }),
    putFile: (token: string, orgId: string, key: string, body: Buffer, headers: Record<string, string> = {}) =>
      inject({ method: 'PUT', url: `/v1/orgs/${orgId}/files/${key}`, headers: { ...bearer(token), 'content-type': 'application/pdf', ...headers }, payload: body }),
    getFile: (token: string, orgId: string, key: string) => inject({ method: 'GET', url: `/v1/orgs/${orgId}/files/${key}`, headers: bearer(token) }),
    removeFile: (token: string, orgId: string, key: string) => inject({ method: 'DELETE', url: `/v1/orgs/${orgId}/files/${key}`, headers: bearer(token) }),
  };
}
