import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { SCOPES } from '../../src/tenancy/permissions.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, freshEmail, identityClient, PASSWORD } from '../identity/support.js';

export interface FuzzTenant {
  orgId: string;
  orgName: string;
  userId: string;
  email: string;
  token: string;
  keyId: string;
  key: string;
}

/** The collection and key of the vault record each tenant holds; B's holds the canary. */
export const RECORD = { collection: 'secrets', key: 'canary' } as const;

/**
 * A tenant as a real customer sets one up through the API: an owner who signed up and in, an org,
 * an API key with every scope and a vault record. `secret` goes into the record and the org name.
 */
export async function createTenant(t: TestApp, label: string, secret: string): Promise<FuzzTenant> {
  const api = identityClient(t);
  const email = freshEmail(`fuzz.${label}`);
  const account = await api.account(email, PASSWORD);
  const token = account.tokens.access_token;
  const orgName = `${label} Org ${secret}`;
  const org = await api.as(token, 'POST', '/v1/orgs', { name: orgName });
  expect(org.statusCode, org.body).toBe(201);
  const orgId = org.json<{ id: string }>().id;
  const issued = await api.as(token, 'POST', `/v1/orgs/${orgId}/api-keys`, { name: `${label} key`, scopes: [...SCOPES] });
  expect(issued.statusCode, issued.body).toBe(201);
  const { id: keyId, key } = issued.json<{ id: string; key: string }>();
  const record = await t.app.inject({
    method: 'PUT',
    url: `/v1/orgs/${orgId}/records/${RECORD.collection}/${RECORD.key}`,
    headers: bearer(key),
    payload: { data: { secret }, subject_id: `subject-${secret}`, category: 'identity' },
  });
  expect(record.statusCode, record.body).toBe(201);
  return { orgId, orgName, userId: account.id, email, token, keyId, key };
}

/** A value no response to anyone but its tenant may ever contain. */
export function canary(): string {
  return `canary${randomBytes(12).toString('hex')}`;
}

/**
 * Fuzzed requests may sign the owner out, revoke the key, or delete the account (that is their
 * job); this restores a working owner and key of the same org so later requests still reach the
 * code behind authentication.
 */
export async function keepAlive(t: TestApp, tenant: FuzzTenant): Promise<void> {
  const api = identityClient(t);
  if ((await api.me(tenant.token)).statusCode !== 200) {
    const login = await api.login(tenant.email);
    if (login.statusCode === 200) tenant.token = login.json<{ access_token: string }>().access_token;
    else {
      const account = await api.account(freshEmail('fuzz.again'));
      await withTenant(t.db.database.db, tenant.orgId, (trx) => trx.insertInto('memberships').values({ tenant_id: tenant.orgId, user_id: account.id, role: 'owner' }).execute());
      Object.assign(tenant, { userId: account.id, email: account.email, token: account.tokens.access_token });
    }
  }
  const keyWorks = await t.app.inject({ method: 'GET', url: `/v1/orgs/${tenant.orgId}/records/${RECORD.collection}/${RECORD.key}`, headers: bearer(tenant.key) });
  if (keyWorks.statusCode === 401 || keyWorks.statusCode === 403) {
    const issued = await api.as(tenant.token, 'POST', `/v1/orgs/${tenant.orgId}/api-keys`, { name: 'fuzz key again', scopes: [...SCOPES] });
    expect(issued.statusCode, issued.body).toBe(201);
    Object.assign(tenant, { keyId: issued.json<{ id: string }>().id, key: issued.json<{ key: string }>().key });
  }
}
