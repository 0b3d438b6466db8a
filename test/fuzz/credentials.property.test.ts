/**
 * Any mutated credential is refused (issue 9): fast-check changes real access tokens (JWT), org
 * API keys and refresh tokens — one flipped bit of the text, a changed byte of a decoded JWT
 * segment, a truncation, an extension — and each mutant must answer 401 while the original keeps
 * working. tokens.security.test.ts and api-keys.security.test.ts attack chosen forms (alg
 * confusion, edited claims, typos); this covers every position.
 */
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/tenancy/permissions.js';
import { bearer, useIdentityApp } from '../identity/support.js';
import type { Tokens } from '../identity/support.js';

const RUNS = 100;

/** A change of the text: one bit of one character (kept printable), a cut, or an extension. */
function textMutation(original: string): Arbitrary<string> {
  const printable = (code: number) => code >= 0x21 && code <= 0x7e;
  return fc.oneof(
    fc.record({ at: fc.nat(original.length - 1), bit: fc.nat(6) }).map(({ at, bit }) => {
      const code = original.charCodeAt(at) ^ (1 << bit);
      return printable(code) ? original.slice(0, at) + String.fromCharCode(code) + original.slice(at + 1) : original.slice(0, at) + original.slice(at + 1);
    }),
    fc.nat(original.length - 1).map((length) => original.slice(0, length)),
    fc.string({ unit: fc.constantFrom(...'Aa0-_.='), minLength: 1, maxLength: 4 }).map((extra) => original + extra),
  );
}

/** A JWT with one bit of its decoded header, payload or signature flipped, re-encoded canonically. */
function jwtByteMutation(token: string): Arbitrary<string> {
  const segments = token.split('.');
  return fc.record({ segment: fc.nat(2), position: fc.nat(10_000), bit: fc.nat(7) }).map(({ segment, position, bit }) => {
    const bytes = Buffer.from(segments[segment]!, 'base64url');
    bytes[position % bytes.length]! ^= 1 << bit;
    return segments.map((value, index) => (index === segment ? bytes.toString('base64url') : value)).join('.');
  });
}

describe('mutated credentials (property)', () => {
  const fixture = useIdentityApp();
  let tokens: Tokens;
  let org: string;
  let key: string;

  beforeAll(async () => {
    const { api } = fixture;
    tokens = (await api.account()).tokens;
    const created = await api.as(tokens.access_token, 'POST', '/v1/orgs', { name: 'Mutants' });
    org = created.json<{ id: string }>().id;
    const issued = await api.as(tokens.access_token, 'POST', `/v1/orgs/${org}/api-keys`, { name: 'mutated', scopes: [...SCOPES] });
    expect(issued.statusCode, issued.body).toBe(201);
    key = issued.json<{ key: string }>().key;
  });

  it('refuses every mutated access token, and the original still works', async () => {
    const original = tokens.access_token;
    await fc.assert(
      fc.asyncProperty(fc.oneof(textMutation(original), jwtByteMutation(original)), async (mutant) => {
        fc.pre(mutant !== original);
        const response = await fixture.api.inject({ method: 'GET', url: '/v1/me', headers: bearer(mutant) });
        expect(response.statusCode, `${response.statusCode} for a mutant`).toBe(401);
      }),
      { numRuns: RUNS },
    );
    expect((await fixture.api.me(original)).statusCode).toBe(200);
  });

  it('JWT signature malleability (found by this file): a signature spelled with other unused bits in its last character is refused', async () => {
    const original = tokens.access_token;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // An Ed25519 signature is 64 bytes: 86 characters, the last carrying 4 unused bits.
    for (const bit of [1, 2, 4, 8]) {
      const mutant = original.slice(0, -1) + alphabet[alphabet.indexOf(original.at(-1)!) ^ bit]!;
      expect(Buffer.from(mutant.split('.')[2]!, 'base64url')).toEqual(Buffer.from(original.split('.')[2]!, 'base64url'));
      expect((await fixture.api.inject({ method: 'GET', url: '/v1/me', headers: bearer(mutant) })).statusCode).toBe(401);
    }
    expect((await fixture.api.me(original)).statusCode).toBe(200);
  });

  it('refuses every mutated API key, and the original still works', async () => {
    const url = `/v1/orgs/${org}/audit?limit=1`;
    await fc.assert(
      fc.asyncProperty(textMutation(key), async (mutant) => {
        fc.pre(mutant !== key);
        const response = await fixture.api.inject({ method: 'GET', url, headers: bearer(mutant) });
        expect(response.statusCode, `${response.statusCode} for a mutant`).toBe(401);
      }),
      { numRuns: RUNS },
    );
    expect((await fixture.api.inject({ method: 'GET', url, headers: bearer(key) })).statusCode).toBe(200);
  });

  it('refuses every mutated refresh token without spending or ending the session', async () => {
    const original = tokens.refresh_token;
    await fc.assert(
      fc.asyncProperty(textMutation(original), async (mutant) => {
        fc.pre(mutant !== original);
        const response = await fixture.api.refresh(mutant);
        expect([400, 401], `${response.statusCode} for a mutant`).toContain(response.statusCode);
      }),
      { numRuns: RUNS },
    );
    const refreshed = await fixture.api.refresh(original);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
  });
});
