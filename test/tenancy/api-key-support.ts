import { expect } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, identityClient } from '../identity/support.js';

export type Member = { id: string; email: string; token: string };

export interface IssuedKey {
  id: string;
  key: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
}

export const KEY_SHAPE = /^rk_[A-Za-z0-9_-]{64}_[A-Za-z0-9_-]{6}$/;

/** Users, orgs and keys for API-key tests, over app.inject. */
export function apiKeyClient(t: TestApp) {
  const api = identityClient(t);

  function call(token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) {
    return t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  }

  return {
    call,

    async user(): Promise<Member> {
      const account = await api.account();
      return { id: account.id, email: account.email, token: account.tokens.access_token };
    },

    /** An org with an owner, an admin and a member (members are added directly; invitations are tested elsewhere). */
    async org() {
      const [owner, admin, member] = await Promise.all([this.user(), this.user(), this.user()]);
      const created = await call(owner.token, 'POST', '/v1/orgs', { name: 'Acme Inspections' });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json<{ id: string }>().id;
      await withTenant(t.db.database.db, id, (trx) =>
        trx
          .insertInto('memberships')
          .values([
            { tenant_id: id, user_id: admin.id, role: 'admin' },
            { tenant_id: id, user_id: member.id, role: 'member' },
          ])
          .execute(),
      );
      return { id, owner, admin, member };
    },

    /** Creates a key as `creator` and expects 201. */
    async issue(creator: Member, orgId: string, body: Record<string, unknown>): Promise<IssuedKey> {
      const response = await call(creator.token, 'POST', `/v1/orgs/${orgId}/api-keys`, { name: 'CI export', ...body });
      expect(response.statusCode, response.body).toBe(201);
      return response.json<IssuedKey>();
    },
  };
}
