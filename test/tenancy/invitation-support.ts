import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { freshEmail, mailedToken } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';

/** A signed-in account: its id, address and access token. */
export interface Person {
  id: string;
  email: string;
  token: string;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Helpers for the invitation tests, over one app and one identity client. */
export function invitationKit(t: TestApp, api: IdentityClient) {
  async function verify(email: string): Promise<void> {
    const token = await mailedToken(t, email, /confirm your email/i);
    const verified = await api.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
    expect(verified.statusCode, verified.body).toBe(204);
  }

  return {
    call: (person: Person, method: Method, url: string, payload?: Record<string, unknown>): Promise<LightMyRequestResponse> => api.as(person.token, method, url, payload),

    /** Signs up and in; the address is verified unless `verified` is false. */
    async person(options: { email?: string; verified?: boolean } = {}): Promise<Person> {
      const email = options.email ?? freshEmail('invitee');
      const created = await api.signup(email);
      expect(created.statusCode, created.body).toBe(201);
      if (options.verified !== false) await verify(email);
      return { id: created.json<{ user: { id: string } }>().user.id, email, token: (await api.tokens(email)).access_token };
    },

    /** A fresh access token for `person` (after the clock moved past the old one). */
    async signIn(person: Person): Promise<Person> {
      return { ...person, token: (await api.tokens(person.email)).access_token };
    },

    async org(owner: Person, name = 'Acme Inspections'): Promise<string> {
      const created = await api.as(owner.token, 'POST', '/v1/orgs', { name });
      expect(created.statusCode, created.body).toBe(201);
      return created.json<{ id: string }>().id;
    },

    invite: (by: Person, orgId: string, email: string, role: 'owner' | 'admin' | 'member') => api.as(by.token, 'POST', `/v1/orgs/${orgId}/invitations`, { email, role }),

    accept: (person: Person, token: string) => api.as(person.token, 'POST', '/v1/invitations/accept', { token }),

    /** The token of the newest invitation mailed to `email` (into the org named `orgName`, when given). */
    mailedInvitation: (email: string, orgName = '') => mailedToken(t, email, new RegExp(`invited to join ${orgName}`, 'i')),

    /** Invites `invitee` and accepts for them: a member with `role`. */
    async join(by: Person, orgId: string, invitee: Person, role: 'owner' | 'admin' | 'member'): Promise<void> {
      const sent = await api.as(by.token, 'POST', `/v1/orgs/${orgId}/invitations`, { email: invitee.email, role });
      expect(sent.statusCode, sent.body).toBe(201);
      const accepted = await api.as(invitee.token, 'POST', '/v1/invitations/accept', { token: await mailedToken(t, invitee.email, /invited to join/i) });
      expect(accepted.statusCode, accepted.body).toBe(200);
    },
  };
}
