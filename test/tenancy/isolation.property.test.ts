/**
 * The isolation proof of issue 4: two tenants, A and B, each with an owner, an admin, a member,
 * an API key holding every scope the owner may grant and a pending invitation. fast-check drives
 * random sequences of calls by A's people and A's key at every org route, with B's ids in the
 * path, and requires that nothing ever crosses: no success, no answer that differs from the one
 * for an org or id that does not exist, and none of B's values anywhere in a response.
 *
 * The routes come from the app's own OpenAPI document, so an org route added later is attacked
 * without anyone remembering to list it here.
 */
import type { LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { SCOPES } from '../../src/tenancy/permissions.js';
import type { Role } from '../../src/tenancy/permissions.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { freshEmail, freshIp, identityClient, mailedToken, PASSWORD, RELAXED_LIMITS } from '../identity/support.js';
import type { IdentityClient } from '../identity/support.js';
import type { IssuedKey } from './api-key-support.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface Person {
  id: string;
  email: string;
  name: string;
  token: string;
}

interface Tenant {
  id: string;
  name: string;
  people: Record<Role, Person>;
  key: IssuedKey;
  invitation: { id: string; email: string; token: string };
}

/** Someone of tenant A: a person with a role, or A's API key (which has no role). */
interface Actor {
  label: string;
  role: Role | 'api_key';
  authorization: string;
}

/** An org route as the OpenAPI document names it: `/v1/orgs/{org}/members/{user_id}`. */
interface Route {
  method: Method;
  template: string;
  /** Path parameters other than `{org}`. */
  subParams: string[];
  /** The route's required query parameters, filled with a valid value: without them validation answers first. */
  query: string;
  /** Whether the operation declares a JSON body (a DELETE may: the suppression list's takes `{email}`). */
  takesBody: boolean;
}

interface OpenApiParameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: { type?: string; default?: unknown };
}

/** A value each required query parameter accepts (those with a default are not really required). */
function requiredQuery(operation: { parameters?: OpenApiParameter[] }): string {
  const required = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query' && parameter.required && parameter.schema?.default === undefined);
  const valueOf = (parameter: OpenApiParameter): string => (parameter.schema?.type === 'integer' || parameter.schema?.type === 'number' ? '1' : 'x');
  return new URLSearchParams(required.map((parameter): [string, string] => [parameter.name, valueOf(parameter)])).toString();
}

interface Call {
  /** The actor's label: a counterexample names the actor without printing its credential. */
  actor: string;
  route: Route;
  /** Values for the sub-parameters, taken from B. */
  ids: Record<string, string>;
  /** The same sub-parameters filled with ids that exist nowhere, for the twin request. */
  strangers: Record<string, string>;
  strangerOrg: string;
  /** Upper-cased ids probe for a normalisation gap between the membership check and RLS. */
  upper: boolean;
  body: unknown;
}

/** The error body without its request id, which differs between any two requests. */
function comparable(response: LightMyRequestResponse): { status: number; body: unknown } {
  const parsed: unknown = response.body === '' ? null : JSON.parse(response.body);
  if (parsed && typeof parsed === 'object' && 'error' in parsed && parsed.error && typeof parsed.error === 'object') {
    const { request_id: _ignored, ...rest } = parsed.error as Record<string, unknown>;
    return { status: response.statusCode, body: { error: rest } };
  }
  return { status: response.statusCode, body: parsed };
}

function errorCodeOf(response: LightMyRequestResponse): string | undefined {
  const parsed = comparable(response).body;
  return parsed && typeof parsed === 'object' && 'error' in parsed ? (parsed.error as { code?: string }).code : undefined;
}

function fill(template: string, org: string, ids: Record<string, string>, upper: boolean): string {
  const cased = (value: string) => (upper ? value.toUpperCase() : value);
  return template.replace(/\{(\w+)\}/g, (_whole, name: string) => encodeURIComponent(cased(name === 'org' ? org : (ids[name] ?? ''))));
}

describe('tenant isolation (property)', () => {
  let t: TestApp;
  let api: IdentityClient;
  let a: Tenant;
  let b: Tenant;
  let routes: Route[];
  let actors: Actor[];
  /** Every value of B's that must never appear in a response to A, lower-cased. */
  let secretsOfB: string[];
  const ip = freshIp();

  async function person(label: string, tag: string): Promise<Person> {
    const email = freshEmail(`${tag.toLowerCase()}.${label}`);
    // A name of its own, so a member list or error that leaked B's people would be recognisable.
    const name = `${tag} ${label} ${email.slice(0, email.indexOf('@'))}`;
    const created = await api.signup(email, PASSWORD, name);
    expect(created.statusCode, created.body).toBe(201);
    return { id: created.json<{ user: { id: string } }>().user.id, email, name, token: (await api.tokens(email)).access_token };
  }

  /** An org as orgs.security.test.ts builds one (the admin and member inserted directly), plus a key and a pending invitation. */
  async function tenant(tag: string): Promise<Tenant> {
    const [owner, admin, member] = await Promise.all([person('owner', tag), person('admin', tag), person('member', tag)]);
    const name = `${tag} Org ${owner.id.slice(0, 8)}`;
    const created = await api.as(owner.token, 'POST', '/v1/orgs', { name });
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
    // The owner may grant every scope on the default plan; the key is as strong as a key gets.
    const issued = await api.as(owner.token, 'POST', `/v1/orgs/${id}/api-keys`, { name: `${tag} key ${id.slice(0, 8)}`, scopes: [...SCOPES] });
    expect(issued.statusCode, issued.body).toBe(201);
    const inviteeEmail = freshEmail(`${tag.toLowerCase()}.invitee`);
    const invited = await api.as(owner.token, 'POST', `/v1/orgs/${id}/invitations`, { email: inviteeEmail, role: 'admin' });
    expect(invited.statusCode, invited.body).toBe(201);
    const invitation = { id: invited.json<{ id: string }>().id, email: inviteeEmail, token: await mailedToken(t, inviteeEmail, /invited to join/i) };
    return { id, name, people: { owner, admin, member }, key: issued.json<IssuedKey>(), invitation };
  }

  /** B's state as the database holds it (through RLS, in B's scope), to prove the run changed nothing. */
  async function snapshot(tenantId: string) {
    const db = t.db.database.db;
    const scoped = await withTenant(db, tenantId, async (trx) => ({
      tenant: await trx.selectFrom('tenants').selectAll().where('tenant_id', '=', tenantId).execute(),
      memberships: await trx.selectFrom('memberships').selectAll().where('tenant_id', '=', tenantId).orderBy('user_id').execute(),
      invitations: await trx.selectFrom('invitations').selectAll().where('tenant_id', '=', tenantId).orderBy('invitation_id').execute(),
      // Without last_used_at: A's key used in A's own org is touched (once a minute), which changes nothing of it.
      apiKeys: (await trx.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('key_id').execute()).map(({ last_used_at: _touched, ...key }) => key),
      // B's audit chain: a crossing read of personal data or any crossing write would extend it.
      auditHead: await trx.selectFrom('audit_heads').select(['size', 'head_hash']).where('tenant_id', '=', tenantId).execute(),
      records: await trx.selectFrom('vault_records').selectAll().where('tenant_id', '=', tenantId).execute(),
    }));
    // Every audited org action records its tenant; a crossing write would have left an event.
    const events = await db
      .selectFrom('security_events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where(sql<boolean>`metadata->>'tenant_id' = ${tenantId}`)
      .executeTakeFirstOrThrow();
    return { ...scoped, auditEvents: Number(events.n) };
  }

  function actorOf(call: Call): Actor {
    const actor = actors.find((candidate) => candidate.label === call.actor);
    if (!actor) throw new Error(`no actor ${call.actor}`);
    return actor;
  }

  function send(call: Call, org: string, ids: Record<string, string>): Promise<LightMyRequestResponse> {
    const { method } = call.route;
    const payload = call.route.takesBody && call.body !== undefined ? JSON.stringify(call.body) : undefined;
    const query = call.route.query ? `?${call.route.query}` : '';
    return t.app.inject({
      method,
      url: fill(call.route.template, org, ids, call.upper) + query,
      remoteAddress: ip,
      headers: { authorization: actorOf(call).authorization, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload }),
    });
  }

  function describeCall(call: Call, url: string, response: LightMyRequestResponse): string {
    return `${call.actor} ${call.route.method} ${url} body=${JSON.stringify(call.body)} -> ${response.statusCode} ${response.body}`;
  }

  /** None of B's values in the body or the headers, whatever the status. */
  function assertNothingOfB(call: Call, url: string, response: LightMyRequestResponse): void {
    const raw = `${response.body}\n${JSON.stringify(response.headers)}`.toLowerCase();
    const leaked = secretsOfB.filter((value) => raw.includes(value));
    expect(leaked, describeCall(call, url, response)).toEqual([]);
  }

  /**
   * Valid bodies per route, some aimed at B's own data; a route without an entry gets random bodies
   * only. Built once, so a generated body can be recognised as one of these by identity.
   */
  let validBodyTable: Map<string, unknown[]>;
  function validBodies(route: Route): unknown[] {
    return validBodyTable.get(`${route.method} ${route.template}`) ?? [];
  }

  function bodyFor(route: Route): fc.Arbitrary<unknown> {
    if (!route.takesBody) return fc.constant(undefined);
    const random = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    const valid = validBodies(route);
    // Mostly valid bodies: an invalid one is refused by validation before any lookup, which tests less.
    return valid.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: random }) : random;
  }

  function callsOn(candidates: Route[]): fc.Arbitrary<Call> {
    const idsOfB = [b.people.owner.id, b.people.admin.id, b.people.member.id, b.invitation.id, b.key.id];
    return fc.constantFrom(...candidates).chain((route) =>
      fc.record({
        actor: fc.constantFrom(...actors.map((actor) => actor.label)),
        route: fc.constant(route),
        ids: fc.record(Object.fromEntries(route.subParams.map((name) => [name, fc.constantFrom(...idsOfB)]))),
        strangers: fc.record(Object.fromEntries(route.subParams.map((name) => [name, fc.uuid({ version: 4 })]))),
        strangerOrg: fc.uuid({ version: 4 }),
        upper: fc.boolean(),
        body: bodyFor(route),
      }),
    );
  }

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    api = identityClient(t);
    a = await tenant('Alpha');
    b = await tenant('Beta');

    const spec = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(spec.statusCode).toBe(200);
    const paths = spec.json<{ paths: Record<string, Record<string, { parameters?: OpenApiParameter[]; requestBody?: { content?: Record<string, unknown> } }>> }>().paths;
    routes = Object.entries(paths)
      .filter(([path]) => path === '/v1/orgs/{org}' || path.startsWith('/v1/orgs/{org}/'))
      .flatMap(([template, operations]) =>
        METHODS.filter((method) => method.toLowerCase() in operations).map((method) => ({
          method,
          template,
          subParams: [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).filter((name) => name !== 'org'),
          query: requiredQuery(operations[method.toLowerCase()]!),
          takesBody: 'application/json' in (operations[method.toLowerCase()]!.requestBody?.content ?? {}),
        })),
      );

    validBodyTable = new Map<string, unknown[]>([
      ['PATCH /v1/orgs/{org}', [{ name: 'Taken over' }, { mfa_required_for: 'all' }, { invite_only: true, retention_days: 1, erasure_grace_days: 0 }]],
      ['PATCH /v1/orgs/{org}/members/{user_id}', [{ role: 'owner' }, { role: 'admin' }, { role: 'member' }]],
      ['POST /v1/orgs/{org}/suppressions', [{ email: b.people.member.email }]],
      ['DELETE /v1/orgs/{org}/suppressions', [{ email: b.people.member.email }]],
      [
        'POST /v1/orgs/{org}/invitations',
        [
          { email: 'intruder@attacker.test', role: 'owner' },
          { email: b.people.member.email, role: 'admin' },
          { email: b.invitation.email, role: 'member' },
        ],
      ],
      [
        'POST /v1/orgs/{org}/api-keys',
        [
          { name: 'exfiltration', scopes: [...SCOPES] },
          { name: 'exfiltration', scopes: ['members:read'], expires_in_days: 1, password: PASSWORD },
        ],
      ],
    ]);
    actors = [
      ...(['owner', 'admin', 'member'] as const).map((role) => ({ label: `A.${role}`, role, authorization: `Bearer ${a.people[role].token}` })),
      { label: 'A.api_key', role: 'api_key' as const, authorization: `Bearer ${a.key.key}` },
    ];
    const people = Object.values(b.people);
    secretsOfB = [
      b.id,
      b.name,
      ...people.flatMap((p) => [p.id, p.email, p.name, p.token]),
      b.key.id,
      b.key.key,
      b.key.name,
      b.invitation.id,
      b.invitation.email,
      b.invitation.token,
    ].map((value) => value.toLowerCase());
  }, 120_000);
  afterAll(async () => t?.close());

  it('finds the org routes in the OpenAPI document', () => {
    // An empty list would make every property below pass vacuously.
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.some((route) => route.subParams.length > 0)).toBe(true);
  });

  it("answers A's people and key at B's org exactly as at an org that does not exist", async () => {
    const before = await snapshot(b.id);
    await fc.assert(
      fc.asyncProperty(fc.array(callsOn(routes), { minLength: 1, maxLength: 5 }), async (calls) => {
        for (const call of calls) {
          const url = fill(call.route.template, b.id, call.ids, call.upper);
          const response = await send(call, b.id, call.ids);
          const twin = await send(call, call.strangerOrg, call.strangers);
          const why = describeCall(call, url, response);
          assertNothingOfB(call, url, response);
          // Whatever the answer, it must not tell B's org from one that does not exist.
          expect(comparable(response), why).toEqual(comparable(twin));
          // 404 for a stranger; 401 for A's key (B holds no such key, as no org does, and routes
          // that take people only refuse keys before any lookup); 400 when the body fails the schema, checked before anything
          // else. Never 2xx, and never 403, which would say the org exists.
          const allowed = actorOf(call).role === 'api_key' ? [400, 401, 404] : [400, 404];
          expect(allowed, why).toContain(response.statusCode);
          if (response.statusCode === 404) expect(errorCodeOf(response), why).toBe('not_found');
          if (response.statusCode === 401) expect(actorOf(call).role, why).toBe('api_key');
          const validBody = (!call.route.takesBody && call.body === undefined) || validBodies(call.route).includes(call.body);
          if (validBody && actorOf(call).role !== 'api_key') expect(response.statusCode, why).toBe(404);
        }
      }),
      { numRuns: 250 },
    );
    expect(await snapshot(b.id)).toEqual(before);
    // Hundreds of requests: on a loaded 2-core machine this can take longer than the default 30 s.
  }, 120_000);

  it("answers A's people and key in A's own org, with B's member, invitation and key ids, as for ids that do not exist", async () => {
    // Vault records, files and collections are named by the client (PUT creates whatever name it is
    // given), so B's ids there are just new names in A's org; their isolation is proven in test/vault.
    const withIds = routes.filter((route) => route.subParams.length > 0 && !/^\/v1\/orgs\/\{org\}\/(records|files|vault\/collections)\//.test(route.template));
    expect(withIds.length).toBeGreaterThan(0);
    const beforeA = await snapshot(a.id);
    const beforeB = await snapshot(b.id);
    await fc.assert(
      fc.asyncProperty(fc.array(callsOn(withIds), { minLength: 1, maxLength: 5 }), async (calls) => {
        for (const call of calls) {
          const url = fill(call.route.template, a.id, call.ids, call.upper);
          const response = await send(call, a.id, call.ids);
          const twin = await send(call, a.id, call.strangers);
          const why = describeCall(call, url, response);
          assertNothingOfB(call, url, response);
          // The same answer as for ids that exist nowhere: B's ids are unknown here, not forbidden.
          expect(comparable(response), why).toEqual(comparable(twin));
          // 404 for the foreign id; 403 `forbidden` only where A's own role lacks the route's
          // permission (checked before the id is looked up, which the twin proves); 401 for the key
          // on a people-only route; 400 for a body that fails the schema. Never 2xx, never 409.
          expect([400, 401, 403, 404], why).toContain(response.statusCode);
          if (response.statusCode === 404) expect(errorCodeOf(response), why).toBe('not_found');
          if (response.statusCode === 403) expect(errorCodeOf(response), why).toBe('forbidden');
          const validBody = (!call.route.takesBody && call.body === undefined) || validBodies(call.route).includes(call.body);
          // The owner holds every permission these routes ask for, so only the lookup can refuse it;
          // except what A's plan (free) switches off, the whole-org export, refused before any lookup.
          const planAllows = !call.route.template.startsWith('/v1/orgs/{org}/exports');
          if (validBody && actorOf(call).role === 'owner' && planAllows) expect(response.statusCode, why).toBe(404);
        }
      }),
      { numRuns: 150 },
    );
    expect(await snapshot(a.id)).toEqual(beforeA);
    expect(await snapshot(b.id)).toEqual(beforeB);
  }, 120_000);
});
