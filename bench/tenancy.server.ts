import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Type } from 'typebox';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Config } from '../src/config.js';
import { deriveKey } from '../src/crypto/root-key.js';
import { createAccessTokens } from '../src/identity/access-tokens.js';
import { createAuthenticator } from '../src/identity/authenticate.js';
import { createSessions } from '../src/identity/sessions.service.js';
import { systemClock } from '../src/platform/clock.js';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS, withTenant } from '../src/platform/db/index.js';
import type { Database } from '../src/platform/db/index.js';
import { createLogger } from '../src/platform/log/logger.js';
import type { OrgContext } from '../src/tenancy/index.js';
import { insertMembership } from '../src/tenancy/orgs.repository.js';
import { createOrgs } from '../src/tenancy/orgs.service.js';
import { tenancyErrors } from '../src/tenancy/tenancy.errors.js';
import { serveBenchmarkChild } from './lib/child-server.js';

/**
 * The server of the tenancy benchmark, in its own process (see lib/child-server.ts). Both sides run
 * this same program, each on a database of its own; the benchmark drives one route of each:
 *
 * - `GET /v1/orgs/:org/members`, Rampart's real route: authentication (token, session), then in the
 *   read's tenant transaction the org scope (org row ⋈ membership, MFA policy, `authorize`), the read;
 * - `GET /bench/orgs/:org/members`, added to the same app before `ready()`: the same authentication
 *   (the same `createAuthenticator` code, over the same database, keys and rate limiter), then the
 *   same `orgs.listMembers` call for the same org, in the same kind of tenant transaction, through
 *   the same response schema, but no org or membership lookup, no MFA policy and no `authorize`:
 *   the difference between the two routes is the per-request authorization.
 *
 * Before listening, it seeds one org: an owner and BENCH_MEMBERS members in all (accounts created
 * through the API, memberships inserted directly, as the tenancy tests do), and signs in one member
 * (role `member`, the weakest that may read the list). `GET /bench/fixture` hands the benchmark
 * the org's id and that member's access token.
 */

// As in identity.server.ts: every request comes from 127.0.0.1; the limit is checked but never reached.
const UNREACHABLE_LIMIT = '1000000';
const PASSWORD = `bench-${randomBytes(12).toString('base64url')}`;

/** What the benchmark needs to call both routes. */
export interface TenancyFixture {
  org: string;
  accessToken: string;
  members: number;
}

function benchConfig(): Config {
  return loadConfig({
    RAMPART_DATA_DIR: join(tmpdir(), 'rampart-bench-unused'),
    RAMPART_LOG_LEVEL: 'info',
    RAMPART_RATE_LIMIT_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_AUTH_PER_IP: UNREACHABLE_LIMIT,
    RAMPART_RATE_LIMIT_PER_ACCOUNT: UNREACHABLE_LIMIT,
  });
}

async function openDatabase(config: Config): Promise<Database> {
  const url = process.env.BENCH_DATABASE_URL;
  const database = url ? openPostgres(url, config.databasePoolSize) : fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  await migrate(database.db);
  return database;
}

// The same shape as the real route's response schema (src/tenancy/orgs.routes.ts), so both
// responses are serialized the same way.
const MembersResponse = Type.Object({
  data: Type.Array(
    Type.Object({
      user_id: Type.String(),
      email: Type.String(),
      name: Type.Union([Type.String(), Type.Null()]),
      role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
      mfa_enabled: Type.Boolean(),
    }),
  ),
  next_cursor: Type.Null(),
});
const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });

async function serve(memberCount: number): Promise<void> {
  const config = benchConfig();
  const database = await openDatabase(config);
  const db = database.db;
  const rootKey = randomBytes(32);
  const logger = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const app = await buildApp({ config, database, rootKey, logger });
  app.addHook('onClose', () => database.close());

  // Rampart's own authentication, built from the factories createIdentity uses, with its inputs.
  const accessTokens = createAccessTokens({
    db,
    sealingKey: deriveKey(rootKey, 'signing-keys'),
    issuer: config.publicUrl,
    ttlSeconds: config.identity.accessTokenTtlSeconds,
    clock: systemClock,
  });
  const sessions = createSessions({
    db,
    clock: systemClock,
    accessTokens,
    tokenHashKey: deriveKey(rootKey, 'token-hashing'),
    accessTokenTtlSeconds: config.identity.accessTokenTtlSeconds,
    idleDays: config.identity.sessionIdleDays,
    absoluteDays: config.identity.sessionAbsoluteDays,
  });
  const requireUser = createAuthenticator({ accessTokens, sessions, rateLimiter: app.rateLimiter })('user');
  const orgs = createOrgs({ db, clock: systemClock });

  let fixture: TenancyFixture | null = null;
  let context: OrgContext | null = null;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.get(
    '/bench/orgs/:org/members',
    { preHandler: requireUser, schema: { params: OrgParams, response: { 200: MembersResponse } } },
    async (request) => {
      // The benchmark's org only; anything else is a failure the run reports, not a measurement.
      if (!context || request.params.org !== context.tenantId) throw tenancyErrors.not_found();
      const known = context;
      // The read's own tenant transaction, without the standing query and checks a real scope adds.
      return { data: await orgs.listMembers((work) => withTenant(db, known.tenantId, (trx) => work(trx, known))), next_cursor: null };
    },
  );
  typed.get('/bench/fixture', { config: { rateLimit: false } }, async (_request, reply) => (fixture ? fixture : reply.status(503).send()));

  await app.ready();
  // createIdentity loads the signing keys on ready; ours read the same keys.
  await accessTokens.loadKeys();

  const seeded = await seed(app, memberCount);
  // listMembers reads the context's tenant id and nothing else. The rest of a context (role, the
  // plan's policy, the org row) is what the resolver looks up per request: the very work this side
  // leaves out, so it is not faked here. Should listMembers ever read more, the benchmark's check
  // that both routes answer the same body fails.
  context = { tenantId: seeded.org } as OrgContext;
  fixture = { org: seeded.org, accessToken: seeded.accessToken, members: memberCount };

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server is not listening on a TCP port');
  serveBenchmarkChild(address.port);

  async function seed(server: FastifyInstance, count: number): Promise<{ org: string; accessToken: string }> {
    const call = async <T>(method: 'GET' | 'POST', url: string, payload?: unknown, token?: string): Promise<T> => {
      const response = await server.inject({ method, url, ...(payload ? { payload: payload as object } : {}), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      if (response.statusCode >= 300) throw new Error(`seeding: ${method} ${url}: ${response.statusCode} ${response.body}`);
      return response.json<T>();
    };
    const signUp = async (i: number) => {
      const email = `bench-member-${i}@example.com`;
      const created = await call<{ user: { id: string } }>('POST', '/v1/auth/signup', { email, password: PASSWORD });
      return { id: created.user.id, email };
    };
    const accounts = [];
    for (let i = 0; i < Math.max(2, count); i++) accounts.push(await signUp(i));
    const [owner, reader, ...others] = accounts as [{ id: string; email: string }, { id: string; email: string }, ...{ id: string; email: string }[]];
    const signIn = async (email: string) => (await call<{ access_token: string }>('POST', '/v1/auth/login', { email, password: PASSWORD })).access_token;
    const created = await call<{ id: string }>('POST', '/v1/orgs', { name: 'Bench Inspections' }, await signIn(owner.email));
    await withTenant(db, created.id, async (trx) => {
      await insertMembership(trx, created.id, reader.id, 'member');
      for (const [i, other] of others.entries()) await insertMembership(trx, created.id, other.id, i % 4 === 0 ? 'admin' : 'member');
    });
    return { org: created.id, accessToken: await signIn(reader.email) };
  }
}

await serve(Math.max(2, Math.round(Number(process.argv[2] ?? '10')) || 10));
