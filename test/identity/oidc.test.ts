import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as OTPAuth from 'otpauth';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { REVOKE_CLAIMED_GRANTS_JOB } from '../../src/tenancy/claimed-accounts.js';
import { drainJobs, freshEmail, mailedToken, NEW_PASSWORD } from './support.js';

const PASSWORD = 'vivid otter marble lantern';
const PUBLIC_URL = 'http://127.0.0.1:4000';
const CLIENT_ID = 'rampart';
const CLIENT_SECRET = 'test-client-secret-5f0c2a';

interface ProviderAccount {
  email: string;
  email_verified: boolean;
  name: string;
}

/**
 * A real OpenID Connect provider (oidc-provider) on 127.0.0.1. Its login and consent pages are
 * replaced by a handler that signs in `signInAs` and grants what was asked, so a test drives the
 * whole flow with plain HTTP requests, as a browser following redirects would.
 */
class TestProvider {
  readonly accounts = new Map<string, ProviderAccount>();
  signInAs = '';
  private constructor(
    readonly issuer: string,
    private readonly server: Server,
  ) {}

  static async start(redirectUris: string[]): Promise<TestProvider> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const testProvider = new TestProvider(issuer, server);
    const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: [{ ...signingKey, kid: 'test', alg: 'RS256', use: 'sig' }] },
      cookies: { keys: ['oidc-test-cookie-key'] },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      features: { devInteractions: { enabled: false } },
      // Explicit lifetimes (seconds) keep the provider from printing a notice for each default.
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx, sub) => {
        const account = testProvider.accounts.get(sub);
        return account ? { accountId: sub, claims: () => ({ sub, ...account }) } : undefined;
      },
    });
    const handle = provider.callback();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/interaction/')) return handle(req, res);
      testProvider.interact(provider, req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    return testProvider;
  }

  private async interact(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: this.signInAs } }, { mergeWithLastSubmission: false });
      return;
    }
    const accountId = details.session?.accountId;
    if (!accountId) throw new Error('consent without a session');
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A started sign-in, stopped where the provider sends the browser back to Rampart. */
interface ReturnTrip {
  /** Path and query of Rampart's callback, as the provider redirected to it. */
  callbackPath: string;
  /** The Cookie header of the browser that started the sign-in. */
  cookie: string;
  state: string;
}

async function startSignIn(t: TestApp, provider = 'test'): Promise<{ location: string; cookie: string; state: string }> {
  const start = await t.app.inject({ method: 'GET', url: `/v1/auth/oidc/${provider}/start` });
  expect(start.statusCode, start.body).toBe(302);
  const setCookie = String(start.headers['set-cookie']);
  expect(setCookie).toMatch(/; Path=\/v1\/auth\/oidc\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
  const cookie = setCookie.split(';')[0] ?? '';
  const location = String(start.headers.location);
  const state = new URL(location).searchParams.get('state') ?? '';
  expect(cookie).toBe(`rampart_oidc_state=${state}`);
  return { location, cookie, state };
}

/** Follows the provider's redirects with a fresh cookie jar (a new browser) until it returns to Rampart. */
async function visitProvider(location: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = location;
  for (let hop = 0; hop < 12; hop += 1) {
    if (url.startsWith(`${PUBLIC_URL}/`)) return url.slice(PUBLIC_URL.length);
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') } });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value) jar.set(name, value);
      else jar.delete(name);
    }
    const next = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !next) throw new Error(`provider answered ${response.status}: ${await response.text()}`);
    url = new URL(next, url).href;
  }
  throw new Error('too many redirects');
}

async function goThroughProvider(t: TestApp, oidc: TestProvider, accountId: string): Promise<ReturnTrip> {
  oidc.signInAs = accountId;
  const { location, cookie, state } = await startSignIn(t);
  return { callbackPath: await visitProvider(location), cookie, state };
}

function callback(t: TestApp, trip: ReturnTrip, cookie: string | null = trip.cookie) {
  return t.app.inject({ method: 'GET', url: trip.callbackPath, headers: cookie ? { cookie } : {} });
}

async function signInWith(t: TestApp, oidc: TestProvider, accountId: string) {
  return callback(t, await goThroughProvider(t, oidc, accountId));
}

function me(t: TestApp, accessToken: string) {
  return t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${accessToken}` } });
}

async function signUp(t: TestApp, email: string, options: { verified: boolean }): Promise<string> {
  const response = await t.app.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password: PASSWORD } });
  expect(response.statusCode, response.body).toBe(201);
  const id = response.json<{ user: { id: string } }>().user.id;
  if (options.verified) await t.db.database.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', id).execute();
  return id;
}

function passwordLogin(t: TestApp, email: string) {
  return t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } });
}

async function linkedIdentities(t: TestApp, userId: string) {
  return t.db.database.db.selectFrom('external_identities').select(['provider', 'subject']).where('user_id', '=', userId).execute();
}

function providersEnv(oidc: TestProvider, extra: Record<string, string> = {}): Record<string, string> {
  return {
    // Every sign-in here draws on the strict per-IP budget of authentication routes.
    RAMPART_RATE_LIMIT_AUTH_PER_IP: '100000',
    RAMPART_PUBLIC_URL: PUBLIC_URL,
    RAMPART_OIDC_PROVIDERS: JSON.stringify([{ id: 'test', issuer: oidc.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, name: 'Test IdP' }]),
    ...extra,
  };
}

describe('OpenID Connect sign-in against a real provider', () => {
  let oidc: TestProvider;
  let t: TestApp;

  beforeAll(async () => {
    oidc = await TestProvider.start([`${PUBLIC_URL}/v1/auth/oidc/test/callback`]);
    t = await createTestApp(providersEnv(oidc));
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await oidc.close();
  });

  it('redirects to the provider with PKCE S256, state and nonce', async () => {
    const { location, state } = await startSignIn(t);
    const url = new URL(location);
    expect(url.origin).toBe(oidc.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: `${PUBLIC_URL}/v1/auth/oidc/test/callback`,
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state,
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(state.length).toBeGreaterThanOrEqual(43);
  });

  it('creates an account for a new external identity, then signs it in again', async () => {
    oidc.accounts.set('sub-alice', { email: ' Alice@Example.ORG', email_verified: true, name: 'Alice' });
    const first = await signInWith(t, oidc, 'sub-alice');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const profile = await me(t, first.json().access_token);
    expect(profile.statusCode, profile.body).toBe(200);
    expect(profile.json()).toMatchObject({ email: 'alice@example.org', name: 'Alice', email_verified: true });
    const userId = profile.json<{ id: string }>().id;
    expect(await linkedIdentities(t, userId)).toEqual([{ provider: 'test', subject: 'sub-alice' }]);
    const session = await t.db.database.db.selectFrom('sessions').select('amr').where('principal_id', '=', userId).executeTakeFirstOrThrow();
    expect(session.amr).toEqual(['ext']);

    const again = await signInWith(t, oidc, 'sub-alice');
    expect(again.statusCode, again.body).toBe(200);
    expect((await me(t, again.json().access_token)).json().id).toBe(userId);
    // No password: the account cannot be signed in to with one.
    expect((await passwordLogin(t, 'alice@example.org')).statusCode).toBe(401);

    const events = await t.app.inject({ method: 'GET', url: '/v1/me/security-events', headers: { authorization: `Bearer ${again.json().access_token}` } });
    const recorded = events.json<{ data: Array<{ action: string; metadata: Record<string, unknown> }> }>().data;
    expect(recorded.map((event) => event.action)).toEqual(['auth.login.succeeded', 'auth.login.succeeded', 'auth.signup']);
    expect(recorded[0]?.metadata).toMatchObject({ provider: 'test', amr: ['ext'] });
    expect(recorded[2]?.metadata).toMatchObject({ provider: 'test' });
  });

  it('creates no account and no link for an email the provider has not verified, and records the failure', async () => {
    oidc.accounts.set('sub-frank', { email: 'frank@example.org', email_verified: false, name: 'Frank' });
    const response = await signInWith(t, oidc, 'sub-frank');
    expect(response.statusCode, response.body).toBe(409);
    expect(response.json().error.code).toBe('external_email_unverified');
    expect(response.json()).not.toHaveProperty('access_token');
    expect(await t.db.database.db.selectFrom('users').select('id').where('email', '=', 'frank@example.org').execute()).toEqual([]);
    expect(await t.db.database.db.selectFrom('external_identities').select('user_id').where('subject', '=', 'sub-frank').execute()).toEqual([]);
    const failure = await t.db.database.db
      .selectFrom('security_events')
      .select(['principal_id', 'metadata'])
      .where('action', '=', 'auth.login.failed')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(failure).toEqual({ principal_id: null, metadata: { reason: 'external_email_unverified', provider: 'test' } });
  });

  it('gives Mallory no pre-created account to come back to through an unverified email', async () => {
    const victim = freshEmail('victim');
    oidc.accounts.set('sub-mallory', { email: victim, email_verified: false, name: 'Mallory' });
    const first = await signInWith(t, oidc, 'sub-mallory');
    expect(first.statusCode, first.body).toBe(409);
    // The address is still free for its owner, whose account Mallory's identity cannot enter either.
    const ownerId = await signUp(t, victim, { verified: true });
    const again = await signInWith(t, oidc, 'sub-mallory');
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json().error.code).toBe('external_email_unverified');
    expect(await linkedIdentities(t, ownerId)).toEqual([]);
  });

  it('signs a linked identity in even once the provider stops vouching for its email', async () => {
    oidc.accounts.set('sub-kim', { email: freshEmail('kim'), email_verified: true, name: 'Kim' });
    const first = await signInWith(t, oidc, 'sub-kim');
    expect(first.statusCode, first.body).toBe(200);
    const userId = (await me(t, first.json().access_token)).json<{ id: string }>().id;
    oidc.accounts.set('sub-kim', { ...oidc.accounts.get('sub-kim')!, email_verified: false });
    const again = await signInWith(t, oidc, 'sub-kim');
    expect(again.statusCode, again.body).toBe(200);
    expect((await me(t, again.json().access_token)).json().id).toBe(userId);
  });

  it('removes, on password reset, a link an older release made on an unverified email', async () => {
    // What the vulnerable code left behind: Mallory's provider identity on an account for the
    // victim's address, created password-less and unverified.
    const victim = freshEmail('victim');
    const userId = randomUUID();
    await t.db.database.db.insertInto('users').values({ id: userId, email: victim, name: 'Mallory', password_hash: null, email_verified_at: null }).execute();
    await t.db.database.db.insertInto('external_identities').values({ provider: 'test', subject: 'sub-legacy-reset', user_id: userId }).execute();
    oidc.accounts.set('sub-legacy-reset', { email: victim, email_verified: false, name: 'Mallory' });
    expect((await signInWith(t, oidc, 'sub-legacy-reset')).statusCode).toBe(200);

    // The owner takes the account over by resetting its password through their mailbox.
    expect((await t.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: victim } })).statusCode).toBe(202);
    const token = await mailedToken(t, victim, /reset your password/i);
    const reset = await t.app.inject({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, password: NEW_PASSWORD } });
    expect(reset.statusCode, reset.body).toBe(204);

    expect(await linkedIdentities(t, userId)).toEqual([]);
    const back = await signInWith(t, oidc, 'sub-legacy-reset');
    expect(back.statusCode, back.body).toBe(409);
    expect(back.json().error.code).toBe('external_email_unverified');
    const event = await t.db.database.db.selectFrom('security_events').select('metadata').where('principal_id', '=', userId).where('action', '=', 'password.reset').executeTakeFirstOrThrow();
    expect(event.metadata).toEqual({ external_identities_removed: 1 });
  });

  it('removes, on email verification, a link made while the address was unverified', async () => {
    const email = freshEmail('verifier');
    const userId = await signUp(t, email, { verified: false });
    await t.db.database.db.insertInto('external_identities').values({ provider: 'test', subject: 'sub-legacy-verify', user_id: userId }).execute();
    const token = await mailedToken(t, email, /confirm your email/i);
    const verified = await t.app.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
    expect(verified.statusCode, verified.body).toBe(204);
    expect(await linkedIdentities(t, userId)).toEqual([]);
    const event = await t.db.database.db.selectFrom('security_events').select('metadata').where('principal_id', '=', userId).where('action', '=', 'email.verified').executeTakeFirstOrThrow();
    expect(event.metadata).toEqual({ external_identities_removed: 1 });
  });

  it('links an existing account when the provider has verified the email', async () => {
    const userId = await signUp(t, 'bob@example.org', { verified: true });
    oidc.accounts.set('sub-bob', { email: 'BOB@example.org', email_verified: true, name: 'Bob' });
    const response = await signInWith(t, oidc, 'sub-bob');
    expect(response.statusCode, response.body).toBe(200);
    expect((await me(t, response.json().access_token)).json().id).toBe(userId);
    expect(await linkedIdentities(t, userId)).toEqual([{ provider: 'test', subject: 'sub-bob' }]);
    // The account keeps its password.
    expect((await passwordLogin(t, 'bob@example.org')).statusCode).toBe(200);
    const linked = await t.db.database.db.selectFrom('security_events').select('metadata').where('principal_id', '=', userId).where('action', '=', 'auth.external_identity.linked').execute();
    expect(linked).toHaveLength(1);
  });

  it('does not link an existing account when the provider says the email is not verified', async () => {
    const userId = await signUp(t, 'carol@example.org', { verified: true });
    oidc.accounts.set('sub-carol', { email: 'carol@example.org', email_verified: false, name: 'Mallory' });
    const response = await signInWith(t, oidc, 'sub-carol');
    expect(response.statusCode, response.body).toBe(409);
    expect(response.json().error.code).toBe('external_email_unverified');
    expect(response.json()).not.toHaveProperty('access_token');
    expect(await linkedIdentities(t, userId)).toEqual([]);
    const sessions = await t.db.database.db.selectFrom('sessions').select('id').where('principal_id', '=', userId).execute();
    expect(sessions).toEqual([]);
    const failure = await t.db.database.db.selectFrom('security_events').select('metadata').where('principal_id', '=', userId).where('action', '=', 'auth.login.failed').executeTakeFirstOrThrow();
    expect(failure.metadata).toMatchObject({ reason: 'external_email_unverified', provider: 'test' });
  });

  it('takes over a never-verified account for the proven owner: its password and sessions end', async () => {
    // Someone registered the address first (pre-account-takeover); the provider proves who owns it.
    const userId = await signUp(t, 'dave@example.org', { verified: false });
    const squatter = await passwordLogin(t, 'dave@example.org');
    expect(squatter.statusCode).toBe(200);
    oidc.accounts.set('sub-dave', { email: 'dave@example.org', email_verified: true, name: 'Dave' });
    const response = await signInWith(t, oidc, 'sub-dave');
    expect(response.statusCode, response.body).toBe(200);
    const profile = (await me(t, response.json().access_token)).json();
    expect(profile).toMatchObject({ id: userId, email_verified: true });
    expect((await me(t, squatter.json().access_token)).statusCode).toBe(401);
    expect((await passwordLogin(t, 'dave@example.org')).statusCode).toBe(401);
  });

  it('clears a squatter\'s MFA, held challenge, links and tokens when the verified owner claims the account', async () => {
    // The squatter registers the victim's address, enrols TOTP and holds a fresh challenge.
    const victim = freshEmail('victim');
    const userId = await signUp(t, victim, { verified: false });
    const squatter = (await passwordLogin(t, victim)).json<{ access_token: string }>();
    const auth = { authorization: `Bearer ${squatter.access_token}` };
    const enrolment = await t.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: auth });
    expect(enrolment.statusCode, enrolment.body).toBe(200);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolment.json<{ secret: string }>().secret) });
    const confirm = await t.app.inject({ method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: auth, payload: { code: totp.generate() } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: victim } })).statusCode).toBe(202);
    await mailedToken(t, victim, /reset your password/i);
    await t.db.database.db.insertInto('external_identities').values({ provider: 'test', subject: 'sub-squatter-legacy', user_id: userId }).execute();
    const held = (await passwordLogin(t, victim)).json<{ mfa_required: boolean; mfa_token: string }>();
    expect(held.mfa_required).toBe(true);

    // The owner signs in with a provider that verified the address.
    oidc.accounts.set('sub-owner', { email: victim, email_verified: true, name: 'Owner' });
    const owner = await signInWith(t, oidc, 'sub-owner');
    expect(owner.statusCode, owner.body).toBe(200);

    // The held challenge, answered with the squatter's own TOTP, opens nothing.
    const second = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login/mfa',
      payload: { mfa_token: held.mfa_token, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
    });
    expect(second.statusCode, second.body).toBe(400);
    expect(second.json().error.code).toBe('invalid_token');
    // And the owner was not asked for the squatter's second factor.
    expect(owner.json()).toHaveProperty('access_token');
    expect((await me(t, owner.json().access_token)).json()).toMatchObject({ id: userId, email_verified: true });
    expect((await me(t, squatter.access_token)).statusCode).toBe(401);
    expect((await passwordLogin(t, victim)).statusCode).toBe(401);

    const db = t.db.database.db;
    expect(await db.selectFrom('totp_factors').select('principal_id').where('principal_id', '=', userId).execute()).toEqual([]);
    expect(await db.selectFrom('recovery_codes').select('principal_id').where('principal_id', '=', userId).execute()).toEqual([]);
    expect(await db.selectFrom('one_time_tokens').select('purpose').where('principal_id', '=', userId).where('used_at', 'is', null).execute()).toEqual([]);
    expect(await linkedIdentities(t, userId)).toEqual([{ provider: 'test', subject: 'sub-owner' }]);
    const claimed = await db.selectFrom('security_events').select('metadata').where('principal_id', '=', userId).where('action', '=', 'account.claimed').executeTakeFirstOrThrow();
    // verify_email from sign-up, reset_password and mfa_challenge were live.
    expect(claimed.metadata).toEqual({
      provider: 'test',
      password_removed: true,
      mfa_disabled: true,
      one_time_tokens_spent: 3,
      external_identities_removed: 1,
      sessions_revoked: true,
    });

    // The owner's next sign-in asks for no second factor the squatter chose.
    const next = await signInWith(t, oidc, 'sub-owner');
    expect(next.statusCode, next.body).toBe(200);
    expect(next.json()).toHaveProperty('access_token');
  });

  it('revokes the squatter\'s org API keys and pending invitations in each org, audited there, once', async () => {
    const victim = freshEmail('victim');
    const userId = await signUp(t, victim, { verified: false });
    const squatter = (await passwordLogin(t, victim)).json<{ access_token: string }>().access_token;
    const as = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
      t.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
    // Two orgs of the squatter's, each with a key and a pending invitation, which act without any session.
    const planted: Array<{ org: string; key: string; keyId: string; invitationId: string }> = [];
    for (const name of ['Squat One', 'Squat Two']) {
      const org = (await as(squatter, 'POST', '/v1/orgs', { name })).json<{ id: string }>().id;
      const issued = await as(squatter, 'POST', `/v1/orgs/${org}/api-keys`, { name: 'backdoor', scopes: ['members:read'] });
      expect(issued.statusCode, issued.body).toBe(201);
      const invited = await as(squatter, 'POST', `/v1/orgs/${org}/invitations`, { email: freshEmail('accomplice'), role: 'admin' });
      expect(invited.statusCode, invited.body).toBe(201);
      const { id: keyId, key } = issued.json<{ id: string; key: string }>();
      planted.push({ org, key, keyId, invitationId: invited.json<{ id: string }>().id });
      expect((await as(key, 'GET', `/v1/orgs/${org}/members`)).statusCode).toBe(200);
    }

    oidc.accounts.set('sub-claimant', { email: victim, email_verified: true, name: 'Owner' });
    const owner = (await signInWith(t, oidc, 'sub-claimant')).json<{ access_token: string }>().access_token;
    await drainJobs(t);

    const db = t.db.database.db;
    for (const { org, key, keyId, invitationId } of planted) {
      expect((await as(key, 'GET', `/v1/orgs/${org}/members`)).statusCode).toBe(401);
      const keys = (await as(owner, 'GET', `/v1/orgs/${org}/api-keys`)).json<{ data: Array<{ id: string; revoked_at: string | null }> }>().data;
      expect(keys.find((row) => row.id === keyId)?.revoked_at).not.toBeNull();
      const invitations = (await as(owner, 'GET', `/v1/orgs/${org}/invitations`)).json<{ data: Array<{ id: string; status: string }> }>().data;
      expect(invitations.find((row) => row.id === invitationId)?.status).toBe('revoked');
    }
    const revocations = async () =>
      (await db.selectFrom('security_events').select(['action', 'metadata']).where('action', 'in', ['api_key.revoked', 'invitation.revoked']).execute())
        .map((event): Record<string, unknown> => ({ action: event.action, ...(event.metadata as Record<string, unknown>) }))
        .filter((event) => planted.some((p) => p.org === event.tenant_id));
    const recorded = await revocations();
    expect(recorded).toHaveLength(4);
    for (const { org, keyId, invitationId } of planted) {
      expect(recorded).toContainEqual(expect.objectContaining({ action: 'api_key.revoked', key_id: keyId, tenant_id: org }));
      expect(recorded).toContainEqual(expect.objectContaining({ action: 'invitation.revoked', invitation_id: invitationId, tenant_id: org }));
    }

    // The job may run again (at-least-once delivery): nothing more is revoked or recorded, and what
    // the owner set up after the claim is theirs and stays.
    const [first] = planted;
    const ownKey = (await as(owner, 'POST', `/v1/orgs/${first!.org}/api-keys`, { name: 'mine', scopes: ['members:read'] })).json<{ key: string }>().key;
    const claimedAt = await db.selectFrom('users').select('email_verified_at').where('id', '=', userId).executeTakeFirstOrThrow();
    await t.app.jobs.enqueue(db, REVOKE_CLAIMED_GRANTS_JOB, { userId, claimedAt: claimedAt.email_verified_at!.toISOString() });
    await drainJobs(t);
    expect(await revocations()).toHaveLength(4);
    expect((await as(ownKey, 'GET', `/v1/orgs/${first!.org}/members`)).statusCode).toBe(200);
  });

  it('ends a sign-in started from the dashboard in the session cookie and a redirect to a page', async () => {
    oidc.accounts.set('sub-dana', { email: 'dana@example.org', email_verified: true, name: 'Dana' });
    oidc.signInAs = 'sub-dana';
    const start = await t.app.inject({ method: 'GET', url: '/v1/auth/oidc/test/start?client=dashboard' });
    expect(start.statusCode, start.body).toBe(302);
    const cookies = ([] as string[]).concat(start.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]!);
    expect(cookies).toEqual([expect.stringMatching(/^rampart_oidc_state=/), 'rampart_oidc_client=dashboard']);
    const back = await t.app.inject({ method: 'GET', url: await visitProvider(String(start.headers.location)), headers: { cookie: cookies.join('; ') } });
    expect(back.statusCode, back.body).toBe(302);
    expect(back.headers.location).toBe('/');
    expect(back.body).toBe('');
    const set = ([] as string[]).concat(back.headers['set-cookie'] ?? []);
    const session = set.find((line) => line.startsWith('rampart_user_refresh='));
    expect(session).toMatch(/; HttpOnly; SameSite=Strict$/);
    expect(set).toEqual(expect.arrayContaining([expect.stringMatching(/^rampart_oidc_state=; .*Max-Age=0/), expect.stringMatching(/^rampart_oidc_client=; .*Max-Age=0/)]));
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/token/refresh',
      headers: { cookie: session!.split(';')[0]!, 'x-rampart-session': 'cookie', origin: PUBLIC_URL },
      payload: {},
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect((await me(t, refreshed.json().access_token)).json()).toMatchObject({ email: 'dana@example.org' });

    // A failed dashboard sign-in goes back to the sign-in page with the reason, not to JSON.
    const replay = await t.app.inject({ method: 'GET', url: await visitProvider(String((await t.app.inject({ method: 'GET', url: '/v1/auth/oidc/test/start?client=dashboard' })).headers.location)), headers: { cookie: 'rampart_oidc_client=dashboard' } });
    expect(replay.statusCode).toBe(302);
    // A code, never text: a crafted link cannot put words of its own on the sign-in page.
    expect(String(replay.headers.location)).toMatch(/^\/sign-in\?oidc_error=[a-z_]+$/);
    expect(([] as string[]).concat(replay.headers['set-cookie'] ?? []).some((line) => line.startsWith('rampart_user_refresh='))).toBe(false);
  });

  it('refuses a replayed state, and a callback from a browser that did not start the sign-in', async () => {
    oidc.accounts.set('sub-gina', { email: 'gina@example.org', email_verified: true, name: 'Gina' });
    const trip = await goThroughProvider(t, oidc, 'sub-gina');
    const foreign = await callback(t, trip, null);
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().error.code).toBe('invalid_token');
    const other = await callback(t, trip, 'rampart_oidc_state=someone-elses-state');
    expect(other.statusCode).toBe(400);

    const first = await callback(t, trip);
    expect(first.statusCode, first.body).toBe(200);
    expect(String(first.headers['set-cookie'])).toMatch(/^rampart_oidc_state=; .*Max-Age=0/);
    const replay = await callback(t, trip);
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error.code).toBe('invalid_token');
  });

  it('refuses a state it never issued', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/auth/oidc/test/callback?code=abc&state=forged', headers: { cookie: 'rampart_oidc_state=forged' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('invalid_token');
  });

  it('refuses a code obtained in another sign-in (PKCE binds the code to the sign-in that asked for it)', async () => {
    oidc.accounts.set('sub-hugo', { email: 'hugo@example.org', email_verified: true, name: 'Hugo' });
    const stolen = await goThroughProvider(t, oidc, 'sub-hugo');
    const victim = await startSignIn(t);
    const code = new URL(stolen.callbackPath, PUBLIC_URL).searchParams.get('code') ?? '';
    const injected = await t.app.inject({
      method: 'GET',
      url: `/v1/auth/oidc/test/callback?${new URLSearchParams({ code, state: victim.state, iss: oidc.issuer })}`,
      headers: { cookie: victim.cookie },
    });
    expect(injected.statusCode, injected.body).toBe(400);
    expect(injected.json().error.code).toBe('external_sign_in_failed');
    expect(t.logs.find((line) => line.msg === 'external sign-in failed' && line.request_id === injected.headers['x-request-id'])).toMatchObject({
      reason: 'token endpoint error: invalid_grant',
    });
  });

  it('answers a provider error with a failed sign-in and no session', async () => {
    const { cookie, state } = await startSignIn(t);
    const response = await t.app.inject({
      method: 'GET',
      url: `/v1/auth/oidc/test/callback?${new URLSearchParams({ error: 'access_denied', state, iss: oidc.issuer })}`,
      headers: { cookie },
    });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().error.code).toBe('external_sign_in_failed');
    expect(t.logs.find((line) => line.msg === 'external sign-in failed' && line.request_id === response.headers['x-request-id'])).toMatchObject({
      reason: 'authorization error: access_denied',
    });
  });

  it('answers 404 for an unknown provider', async () => {
    const start = await t.app.inject({ method: 'GET', url: '/v1/auth/oidc/nope/start' });
    expect(start.statusCode).toBe(404);
    expect(start.json().error.code).toBe('provider_not_found');
    const back = await t.app.inject({ method: 'GET', url: '/v1/auth/oidc/nope/callback?code=x&state=y', headers: { cookie: 'rampart_oidc_state=y' } });
    expect(back.statusCode).toBe(404);
  });

  it('still asks for the second factor of an account with MFA on', async () => {
    const userId = await signUp(t, 'ivy@example.org', { verified: true });
    const tokens = (await passwordLogin(t, 'ivy@example.org')).json<{ access_token: string }>();
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const enrolment = await t.app.inject({ method: 'POST', url: '/v1/me/mfa/totp', headers: auth });
    expect(enrolment.statusCode, enrolment.body).toBe(200);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolment.json<{ secret: string }>().secret) });
    const confirm = await t.app.inject({ method: 'POST', url: '/v1/me/mfa/totp/confirm', headers: auth, payload: { code: totp.generate() } });
    expect(confirm.statusCode, confirm.body).toBe(200);

    oidc.accounts.set('sub-ivy', { email: 'ivy@example.org', email_verified: true, name: 'Ivy' });
    const response = await signInWith(t, oidc, 'sub-ivy');
    expect(response.statusCode, response.body).toBe(200);
    const challenge = response.json<{ mfa_required: boolean; mfa_token: string }>();
    expect(challenge).toMatchObject({ mfa_required: true });
    expect(response.json()).not.toHaveProperty('access_token');
    const second = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login/mfa',
      payload: { mfa_token: challenge.mfa_token, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
    });
    expect(second.statusCode, second.body).toBe(200);
    expect((await me(t, second.json().access_token)).json().id).toBe(userId);
  });
});

describe('OpenID Connect sign-in in invite-only mode', () => {
  let oidc: TestProvider;
  let t: TestApp;

  beforeAll(async () => {
    oidc = await TestProvider.start([`${PUBLIC_URL}/v1/auth/oidc/test/callback`]);
    t = await createTestApp(providersEnv(oidc, { RAMPART_SIGNUP: 'invite_only' }));
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await oidc.close();
  });

  it('creates no account for an unknown person', async () => {
    oidc.accounts.set('sub-zoe', { email: 'zoe@example.org', email_verified: true, name: 'Zoe' });
    const response = await signInWith(t, oidc, 'sub-zoe');
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json().error.code).toBe('signup_disabled');
    expect(await t.db.database.db.selectFrom('users').select('id').where('email', '=', 'zoe@example.org').execute()).toEqual([]);
  });

  it('still signs in an existing account by its verified email', async () => {
    const id = randomUUID();
    await t.db.database.db.insertInto('users').values({ id, email: 'yann@example.org', name: 'Yann', email_verified_at: new Date() }).execute();
    oidc.accounts.set('sub-yann', { email: 'yann@example.org', email_verified: true, name: 'Yann' });
    const response = await signInWith(t, oidc, 'sub-yann');
    expect(response.statusCode, response.body).toBe(200);
    expect((await me(t, response.json().access_token)).json().id).toBe(id);
  });
});

describe('RAMPART_OIDC_PROVIDERS', () => {
  const valid = { id: 'google', issuer: 'https://accounts.google.com', client_id: 'cid', client_secret: 'very-secret-value', name: 'Google' };
  const load = (providers: unknown, extra: Record<string, string> = {}) =>
    loadConfig({ RAMPART_ROOT_KEY: Buffer.alloc(32, 1).toString('base64'), RAMPART_OIDC_PROVIDERS: typeof providers === 'string' ? providers : JSON.stringify(providers), ...extra });
  const failure = (providers: unknown, extra: Record<string, string> = {}): ConfigError => {
    try {
      load(providers, extra);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads providers, the name defaulting to the id', () => {
    const { name: _name, ...unnamed } = valid;
    expect(load([valid, { ...unnamed, id: 'corp' }]).identity.oidcProviders).toEqual([
      { id: 'google', issuer: 'https://accounts.google.com', clientId: 'cid', clientSecret: 'very-secret-value', name: 'Google' },
      { id: 'corp', issuer: 'https://accounts.google.com', clientId: 'cid', clientSecret: 'very-secret-value', name: 'corp' },
    ]);
    expect(loadConfig({ RAMPART_ROOT_KEY: Buffer.alloc(32, 1).toString('base64') }).identity.oidcProviders).toEqual([]);
  });

  it('names the variable and never echoes the secret', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['[{"id":"google","client_secret":"very-secret-value",', /must be a JSON array/],
      [{ ...valid }, /must be a JSON array/],
      [[{ ...valid, client_id: '' }], /\[0\]\.client_id is required/],
      [[{ ...valid, client_secret: undefined }], /\[0\]\.client_secret is required/],
      [[{ ...valid, id: 'Bad Id' }], /\[0\]\.id must be/],
      [[{ ...valid, issuer: 'not a url' }], /\[0\]\.issuer must be a URL/],
      [[{ ...valid, issuer: 'ftp://example.org' }], /\[0\]\.issuer must use/],
      [[valid, valid], /lists the provider id "google" twice/],
    ];
    for (const [providers, message] of cases) {
      const error = failure(providers);
      expect(error.message).toMatch(/^RAMPART_OIDC_PROVIDERS/);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('very-secret-value');
    }
  });

  it('accepts the providers as a JSON array in RAMPART_CONFIG_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rampart-oidc-'));
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ RAMPART_OIDC_PROVIDERS: [valid] }));
    try {
      expect(loadConfig({ RAMPART_CONFIG_FILE: path, RAMPART_ROOT_KEY: Buffer.alloc(32, 1).toString('base64') }).identity.oidcProviders[0]?.id).toBe('google');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('refuses an http issuer in production and allows it elsewhere', () => {
    const local = [{ ...valid, issuer: 'http://127.0.0.1:9000' }];
    expect(load(local).identity.oidcProviders[0]?.issuer).toBe('http://127.0.0.1:9000');
    const production = { RAMPART_ENV: 'production', RAMPART_TRUSTED_PROXIES: '127.0.0.1', RAMPART_SMTP_URL: 'smtp://mail.example.org' };
    expect(failure(local, production).message).toMatch(/RAMPART_OIDC_PROVIDERS\[0\]\.issuer must use https: in production/);
  });
});
