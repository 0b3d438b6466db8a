import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import type { FakeClock } from '../helpers/clock.js';
import { bearer, drainJobs, freshIp, RELAXED_LIMITS } from '../identity/support.js';
import { vaultClient } from '../vault/support.js';

/** Calls for the privacy tests (consent, retention, ROPA, org export), over app.inject from an address of their own. */
export function privacyClient(t: TestApp) {
  const vault = vaultClient(t);
  const ip = freshIp();
  const inject = (options: InjectOptions) => t.app.inject({ remoteAddress: ip, ...options });
  const as = (token: string, method: InjectOptions['method'], url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    inject({ method, url, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return {
    ...vault,
    inject,
    as,
    settings: (token: string, orgId: string, changes: Record<string, unknown>) => as(token, 'PATCH', `/v1/orgs/${orgId}/privacy-settings`, changes),
    async publicId(token: string, orgId: string): Promise<string> {
      return (await as(token, 'GET', `/v1/orgs/${orgId}/privacy-settings`)).json<{ public_id: string }>().public_id;
    },
    /** Moves an org to a plan (the vendor's to set; the free plan has no whole-org export). */
    async setPlan(orgId: string, plan: 'free' | 'growth' | 'enterprise'): Promise<void> {
      await t.db.database.db.updateTable('tenants').set({ plan }).where('tenant_id', '=', orgId).execute();
    },
    /** The org's audit entries of `action`, oldest first. */
    async auditOf(orgId: string, action: string) {
      return withTenant(t.db.database.db, orgId, (trx) => trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', orgId).where('action', '=', action).orderBy('seq').execute());
    },
  };
}

/** A privacy test app with a clock the test moves and a file store of its own. */
export function usePrivacyApp(clock: FakeClock, env: Record<string, string> = {}) {
  const state = {} as { t: TestApp; fileDir: string };
  beforeAll(async () => {
    state.fileDir = await mkdtemp(join(tmpdir(), 'rampart-privacy-'));
    state.t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_VAULT_FILE_DIR: state.fileDir, ...env }, { clock });
  }, 60_000);
  afterAll(async () => {
    await state.t?.close();
    await rm(state.fileDir, { recursive: true, force: true });
  });
  return state;
}

/** Runs a job now, as the worker would, then anything it queued. */
export async function runJob(t: TestApp, name: string, payload: object = {}): Promise<void> {
  await t.app.jobs.enqueue(t.db.database.db, name, payload);
  await drainJobs(t);
}
