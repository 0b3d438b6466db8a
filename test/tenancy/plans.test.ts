import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, errorCode, identityClient, RELAXED_LIMITS } from '../identity/support.js';

/**
 * Plans gate features with the same mechanism as roles: RAMPART_PLANS switches permissions off for
 * every org on a plan and sets the weakest MFA policy its orgs may have.
 */
describe('plan policies', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_PLANS: JSON.stringify({ free: { disabled: ['members:read'], mfa_required_for: 'none' } }) });
  }, 60_000);
  afterAll(async () => t.close());

  it("switches a permission off for the plan's orgs whatever the role, and applies a plan's MFA floor", async () => {
    const api = identityClient(t);
    const owner = await api.account();
    const as = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(owner.tokens.access_token) });
    const created = await t.app.inject({ method: 'POST', url: '/v1/orgs', headers: bearer(owner.tokens.access_token), payload: { name: 'Free Co' } });
    const id = created.json<{ id: string }>().id;
    expect((await as(`/v1/orgs/${id}`)).statusCode).toBe(200);
    const members = await as(`/v1/orgs/${id}/members`);
    expect(members.statusCode).toBe(403);
    expect(errorCode(members)).toBe('forbidden');
    // growth keeps its default floor (owners need MFA), though the org's own policy says none.
    await t.db.database.db.updateTable('tenants').set({ plan: 'growth' }).where('tenant_id', '=', id).execute();
    const floor = await as(`/v1/orgs/${id}`);
    expect(floor.statusCode).toBe(403);
    expect(errorCode(floor)).toBe('mfa_required');
  });

  it('refuses an invalid RAMPART_PLANS at start, naming what is wrong', async () => {
    await expect(createTestApp({ RAMPART_PLANS: '{"gold": {}}' })).rejects.toThrow(ConfigError);
    await expect(createTestApp({ RAMPART_PLANS: '{"free": {"disabled": ["everything"]}}' })).rejects.toThrow(/RAMPART_PLANS.free.disabled/);
    await expect(createTestApp({ RAMPART_PLANS: '{"free": {"mfa_required_for": "sometimes"}}' })).rejects.toThrow(/mfa_required_for/);
  });
});
