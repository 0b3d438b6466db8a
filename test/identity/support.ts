import { randomBytes, randomInt } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { listOutbox } from '../../src/platform/mail/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import type { FakeClock } from '../helpers/clock.js';

/** Accepted by the password policy; tests that are not about passwords use it. */
export const PASSWORD = 'vivid otter marble lantern';
export const NEW_PASSWORD = 'quiet harbour copper falcon';

/**
 * Identity tests sign in far more often than a person would; these lift the per-IP limits so a
 * test fails on the behaviour under test, not on the shared `auth` bucket (which, with Redis,
 * outlives the app and is shared by every test file).
 */
export const RELAXED_LIMITS = { RAMPART_RATE_LIMIT_PER_IP: '100000', RAMPART_RATE_LIMIT_AUTH_PER_IP: '100000' };

/**
 * An address no other test or run uses: the database is per file, but with Redis the login
 * throttle remembers an address (by keyed hash) across runs.
 */
export function freshEmail(label = 'user'): string {
  return `${label}.${randomBytes(6).toString('hex')}@customer.test`;
}

export function freshIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

export function bearer(accessToken: string): Record<string, string> {
  return { authorization: `Bearer ${accessToken}` };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * Thin wrappers over app.inject for the identity routes. Requests come from an address of the
 * client's own unless a test names one: with Redis, per-IP counters are shared by every test file.
 */
export function identityClient(t: TestApp) {
  const ip = freshIp();
  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> => t.app.inject({ remoteAddress: ip, ...options });
  return {
    inject,
    signup: (email: string, password = PASSWORD, name?: string) =>
      inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password, ...(name === undefined ? {} : { name }) } }),
    login: (email: string, password = PASSWORD, remoteAddress?: string) =>
      inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password }, ...(remoteAddress ? { remoteAddress } : {}) }),
    loginMfa: (mfaToken: string, code: string) => inject({ method: 'POST', url: '/v1/auth/login/mfa', payload: { mfa_token: mfaToken, code } }),
    refresh: (refreshToken: string) => inject({ method: 'POST', url: '/v1/auth/token/refresh', payload: { refresh_token: refreshToken } }),
    me: (accessToken: string) => inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) }),
    /** GET/POST/PATCH/DELETE as the holder of `accessToken`. */
    as: (accessToken: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
      inject({ method, url, headers: bearer(accessToken), ...(payload ? { payload } : {}) }),

    /** Signs up and signs in (no MFA); returns the user id and the tokens. */
    async account(email = freshEmail(), password = PASSWORD): Promise<{ id: string; email: string; tokens: Tokens }> {
      const created = await this.signup(email, password);
      expect(created.statusCode, created.body).toBe(201);
      return { id: created.json<{ user: { id: string } }>().user.id, email, tokens: await this.tokens(email, password) };
    },

    /** Signs in with a password only and returns the tokens. */
    async tokens(email: string, password = PASSWORD): Promise<Tokens> {
      const response = await this.login(email, password);
      expect(response.statusCode, response.body).toBe(200);
      return response.json<Tokens>();
    },
  };
}

export type IdentityClient = ReturnType<typeof identityClient>;

export function errorCode(response: LightMyRequestResponse): string {
  return response.json<{ error: { code: string } }>().error.code;
}

/** The claims of a JWT, read without verifying it. */
export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

/** Runs queued jobs (mail is sent by a job) until none is due. */
export async function drainJobs(t: TestApp): Promise<void> {
  while ((await t.app.worker.runOnce()) > 0) {
    // Each round may enqueue more (a reset request enqueues its mail).
  }
}

/** Mails in the development outbox for `to`, newest first. */
export async function mailsTo(t: TestApp, to: string) {
  return (await listOutbox(t.db.database.db, 1000)).filter((mail) => mail.to === to);
}

/** The `token` query parameter of the link in the newest mail to `to` whose subject matches. */
export async function mailedToken(t: TestApp, to: string, subject: RegExp): Promise<string> {
  await drainJobs(t);
  const mail = (await mailsTo(t, to)).find((candidate) => subject.test(candidate.subject));
  if (!mail) throw new Error(`no mail matching ${subject} was sent to ${to}`);
  const link = /https?:\/\/\S+/.exec(mail.text)?.[0];
  const token = link ? new URL(link).searchParams.get('token') : null;
  if (!token) throw new Error(`the mail "${mail.subject}" holds no link with a token`);
  return token;
}

/**
 * The app every identity or tenancy test file starts from: built before the file's tests on a
 * database copy of its own, closed after them. Read `t` and `api` inside tests (they are set once
 * the file's `beforeAll` has run).
 */
export function useIdentityApp(env: Record<string, string> = RELAXED_LIMITS, options: { clock?: FakeClock } = {}) {
  const fixture = {} as { t: TestApp; api: IdentityClient };
  beforeAll(async () => {
    fixture.t = await createTestApp(env, options);
    fixture.api = identityClient(fixture.t);
  }, 60_000);
  afterAll(async () => fixture.t.close());
  return fixture;
}
