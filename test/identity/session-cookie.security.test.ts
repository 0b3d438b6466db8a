/**
 * The browser session: the refresh token in an HttpOnly, SameSite=Strict cookie, never in the
 * body, and CSRF defences on every request that sets or reads it (the x-rampart-session header
 * and a same-origin Origin). API clients that send the refresh token in the body are untouched.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import { bearer, errorCode, freshEmail, identityClient, PASSWORD, RELAXED_LIMITS, useIdentityApp } from './support.js';

const ORIGIN = 'http://127.0.0.1:4000';
const BROWSER = { 'x-rampart-session': 'cookie', origin: ORIGIN };

function setCookie(response: LightMyRequestResponse): string {
  const header = response.headers['set-cookie'];
  return Array.isArray(header) ? header.join('\n') : (header ?? '');
}

/** The `name=value` pair of the session cookie a response set. */
function cookiePair(response: LightMyRequestResponse): string {
  const pair = /(rampart_user_refresh=[^;]*)/.exec(setCookie(response))?.[1];
  if (!pair) throw new Error('no session cookie was set');
  return pair;
}

describe('browser session cookie', () => {
  const fixture = useIdentityApp({ ...RELAXED_LIMITS, RAMPART_PUBLIC_URL: ORIGIN });

  async function browserLogin() {
    const { api } = fixture;
    const email = freshEmail('browser');
    expect((await api.signup(email)).statusCode).toBe(201);
    const response = await api.inject({ method: 'POST', url: '/v1/auth/login', headers: BROWSER, payload: { email, password: PASSWORD } });
    expect(response.statusCode, response.body).toBe(200);
    return response;
  }

  const refreshWith = (cookie: string, headers: Record<string, string> = BROWSER) =>
    fixture.api.inject({ method: 'POST', url: '/v1/auth/token/refresh', headers: { ...headers, cookie }, payload: {} });

  it('puts the refresh token into an HttpOnly SameSite=Strict cookie and not into the body', async () => {
    const response = await browserLogin();
    const body = response.json<Record<string, unknown>>();
    expect(body.access_token).toEqual(expect.any(String));
    expect(body).not.toHaveProperty('refresh_token');
    const header = setCookie(response);
    expect(header).toMatch(/^rampart_user_refresh=[A-Za-z0-9_-]{16,}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  });

  it('refreshes from the cookie and rotates it; the spent cookie then revokes the session', async () => {
    const first = cookiePair(await browserLogin());
    const refreshed = await refreshWith(first);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.json()).not.toHaveProperty('refresh_token');
    const second = cookiePair(refreshed);
    expect(second).not.toBe(first);
    const replayed = await refreshWith(first);
    expect(replayed.statusCode).toBe(401);
    expect(errorCode(replayed)).toBe('refresh_token_reused');
    expect(setCookie(replayed)).toMatch(/rampart_user_refresh=; Path=\/; Max-Age=0/);
    expect((await refreshWith(second)).statusCode).toBe(401);
  });

  it('refuses the cookie without the custom header, without an Origin, or from another origin', async () => {
    const cookie = cookiePair(await browserLogin());
    const noHeader = await refreshWith(cookie, { origin: ORIGIN });
    expect(noHeader.statusCode).toBe(400);
    const noOrigin = await refreshWith(cookie, { 'x-rampart-session': 'cookie' });
    expect(noOrigin.statusCode).toBe(403);
    const foreign = await refreshWith(cookie, { 'x-rampart-session': 'cookie', origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(errorCode(foreign)).toBe('forbidden');
    // None of the refused attempts spent the token.
    expect((await refreshWith(cookie)).statusCode).toBe(200);
  });

  it('does not set a cookie for a cross-origin sign-in', async () => {
    const email = freshEmail('csrf');
    await fixture.api.signup(email);
    const response = await fixture.api.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'x-rampart-session': 'cookie', origin: 'https://evil.example' }, payload: { email, password: PASSWORD } });
    expect(response.statusCode).toBe(403);
    expect(setCookie(response)).toBe('');
  });

  it('ends with sign-out: the cookie is cleared and no longer refreshes', async () => {
    const login = await browserLogin();
    const cookie = cookiePair(login);
    const out = await fixture.api.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(login.json<{ access_token: string }>().access_token) });
    expect(out.statusCode).toBe(204);
    expect(setCookie(out)).toMatch(/Max-Age=0/);
    const after = await refreshWith(cookie);
    expect(after.statusCode).toBe(401);
  });

  it('keeps the JSON refresh flow for API clients, and asks for a token when neither is sent', async () => {
    const { api } = fixture;
    const email = freshEmail('api');
    await api.signup(email);
    const tokens = await api.tokens(email);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await api.refresh(tokens.refresh_token);
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json()).toHaveProperty('refresh_token');
    expect(refreshed.headers['set-cookie']).toBeUndefined();
    const empty = await api.inject({ method: 'POST', url: '/v1/auth/token/refresh', payload: {} });
    expect(empty.statusCode).toBe(400);
    expect(errorCode(empty)).toBe('invalid_request');
  });

  it('publishes the sign-in options of the hosted page', async () => {
    const response = await fixture.api.inject({ method: 'GET', url: '/v1/auth/options' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ signup: 'open', oidc_providers: [] });
  });
});

describe('browser session cookie under TLS', () => {
  it('is Secure with the __Host- prefix', async () => {
    const t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_PUBLIC_URL: 'https://rampart.example' });
    try {
      const api = identityClient(t);
      const email = freshEmail('tls');
      await api.signup(email);
      const response = await api.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'x-rampart-session': 'cookie', origin: 'https://rampart.example' }, payload: { email, password: PASSWORD } });
      expect(response.statusCode, response.body).toBe(200);
      expect(setCookie(response)).toMatch(/^__Host-rampart_user_refresh=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await t.close();
    }
  });
});
