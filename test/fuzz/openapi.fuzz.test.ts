/**
 * Fuzzing from the OpenAPI document (issue 9): every operation the app describes, whichever
 * module added it, gets at least 100 generated requests — valid for its schema, at its
 * boundaries, and hostile (wrong types, huge strings, unicode edge cases, `__proto__` and
 * `constructor` keys, deep nesting, broken JSON) — from a real signed-in owner and an API key of
 * tenant A, or with no or a forged credential. Tenant B holds a planted canary in a vault record
 * and in its org name. A response passes only if it is not a 5xx, its status is declared for the
 * operation, its body matches the schema declared for that status, it shows no stack trace or
 * internal path, and it holds nothing of B's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { freshIp, RELAXED_LIMITS } from '../identity/support.js';
import { operationsOf } from './openapi-operations.js';
import type { OpenApiDocument, Operation, Parameter } from './openapi-operations.js';
import { createResponseChecker } from './response-check.js';
import { bodyText, hostileString, validValue } from './schema-arbitrary.js';
import { canary, createTenant, keepAlive, RECORD } from './tenants.js';
import type { FuzzTenant } from './tenants.js';

const RUNS_PER_OPERATION = 100;

const fileDir = await mkdtemp(join(tmpdir(), 'rampart-fuzz-'));
const t: TestApp = await createTestApp({ ...RELAXED_LIMITS, RAMPART_RATE_LIMIT_PER_ACCOUNT: '100000', RAMPART_VAULT_FILE_DIR: fileDir });
const operations = operationsOf((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>());

let a: FuzzTenant;
let b: FuzzTenant;
const secretOfB = canary();
const check = createResponseChecker(() => [secretOfB, b.orgName, b.email, b.userId, b.orgId, b.key]);

/** Header values must be printable to travel at all; anything else is sent as its percent-encoding. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(Buffer.from(value).toString());
}

/** Path segments are sent percent-encoded from well-formed UTF-8 (a lone surrogate becomes U+FFFD). */
function pathSafe(value: string): string {
  return encodeURIComponent(Buffer.from(value).toString());
}

/** Ids that exist (A's, B's) mixed into generated values, so lookups hit real rows, not only misses. */
function knownValues(name: string): string[] {
  switch (name) {
    case 'org':
      return [a.orgId, a.orgId, a.orgId, b.orgId];
    case 'user_id':
      return [a.userId, b.userId];
    case 'id':
      return [a.keyId, b.keyId];
    case 'collection':
      return [RECORD.collection];
    case 'key':
      return [RECORD.key];
    default:
      return [];
  }
}

function parameterValue(parameter: Parameter): Arbitrary<string> {
  const generated = validValue(parameter.schema).map((value) => (typeof value === 'string' ? value : JSON.stringify(value)));
  const known = knownValues(parameter.name);
  return fc.oneof(
    ...(known.length ? [{ weight: 6, arbitrary: fc.constantFrom(...known) }] : []),
    { weight: 3, arbitrary: generated },
    { weight: 1, arbitrary: hostileString },
  );
}

type Credential = 'owner' | 'key' | 'none' | 'forged';

interface GeneratedRequest {
  credential: Credential;
  forged: string;
  path: Record<string, string>;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  body: string | Buffer | null;
  contentType: string | null;
}

function requestsFor(operation: Operation): Arbitrary<GeneratedRequest> {
  const ofKind = (kind: Parameter['in']) => operation.parameters.filter((parameter) => parameter.in === kind);
  const path = fc.record(Object.fromEntries(ofKind('path').map((parameter) => [parameter.name, parameterValue(parameter)])));
  const query = fc
    .tuple(...ofKind('query').map((parameter) => fc.option(parameterValue(parameter).map((value): [string, string] => [parameter.name, value]), { nil: null, freq: parameter.required ? 10 : 2 })))
    .map((pairs) => pairs.filter((pair): pair is [string, string] => pair !== null));
  const headers = fc
    .tuple(...ofKind('header').map((parameter) => fc.option(parameterValue(parameter).map((value): [string, string] => [parameter.name, headerSafe(value)]), { nil: null })))
    .map((pairs) => Object.fromEntries(pairs.filter((pair): pair is [string, string] => pair !== null)));
  const jsonBody = operation.body ? bodyText(operation.body) : null;
  const body: Arbitrary<{ body: string | Buffer | null; contentType: string | null }> = jsonBody
    ? fc.oneof(
        { weight: 12, arbitrary: jsonBody.map((text) => ({ body: text, contentType: 'application/json' })) },
        { weight: 1, arbitrary: jsonBody.map((text) => ({ body: text, contentType: 'text/plain' })) },
        { weight: 1, arbitrary: fc.constant({ body: null, contentType: null }) },
      )
    : operation.method === 'PUT' || operation.method === 'POST'
      ? // An operation that takes a stream (a file upload): any bytes, any declared type.
        fc.record({
          body: fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes)),
          contentType: fc.constantFrom('application/pdf', 'application/octet-stream', 'text/plain; charset=utf-8', 'image/png', 'application/json', 'x/\u00e9'),
        }).map(({ body: bytes, contentType }) => ({ body: bytes, contentType: headerSafe(contentType) }))
      : fc.constant({ body: null, contentType: null });
  return fc
    .record({
      credential: operation.secured ? fc.constantFrom<Credential>('owner', 'owner', 'owner', 'owner', 'key', 'key', 'none', 'forged') : fc.constantFrom<Credential>('none', 'none', 'owner', 'forged'),
      forged: hostileString.map(headerSafe),
      path,
      query,
      headers,
      body,
    })
    .map(({ body: generated, ...rest }) => ({ ...rest, ...generated }));
}

function injectOptions(operation: Operation, request: GeneratedRequest, remoteAddress: string): InjectOptions {
  const url = operation.template.replace(/\{(\w+)\}/g, (_whole, name: string) => pathSafe(request.path[name] ?? ''));
  const search = new URLSearchParams(request.query).toString();
  const authorization = { owner: `Bearer ${a.token}`, key: `Bearer ${a.key}`, none: null, forged: `Bearer ${request.forged}` }[request.credential];
  return {
    method: operation.method,
    url: search ? `${url}?${search}` : url,
    remoteAddress,
    headers: {
      ...request.headers,
      ...(authorization ? { authorization } : {}),
      ...(request.contentType ? { 'content-type': request.contentType } : {}),
    },
    ...(request.body !== null ? { payload: request.body } : {}),
  };
}

/** What a failure prints: the request without the credential. */
function describeRequest(options: InjectOptions): string {
  const { authorization: _hidden, ...headers } = (options.headers ?? {}) as Record<string, string>;
  const payload = options.payload === undefined ? '' : ` body=${String(options.payload).slice(0, 300)}`;
  return `${options.method} ${String(options.url).slice(0, 300)} headers=${JSON.stringify(headers).slice(0, 200)}${payload}`;
}

beforeAll(async () => {
  a = await createTenant(t, 'Alpha', canary());
  b = await createTenant(t, 'Bravo', secretOfB);
}, 60_000);

afterAll(async () => {
  await t.close();
  await rm(fileDir, { recursive: true, force: true });
});

describe('fuzzing every OpenAPI operation', () => {
  it('describes a healthy number of operations', () => {
    if (operations.length < 50) throw new Error(`only ${operations.length} operations in the OpenAPI document`);
  });

  for (const operation of operations) {
    it(operation.id, async () => {
      const remoteAddress = freshIp();
      let failure: string | null = null;
      const result = await fc.check(
        fc.asyncProperty(requestsFor(operation), async (request) => {
          const options = injectOptions(operation, request, remoteAddress);
          const response = await t.app.inject(options);
          const problems = check(operation, response);
          if (problems.length) {
            failure = `${problems.join('; ')}\n  request: ${describeRequest(options)}\n  response: ${response.statusCode} ${response.body.slice(0, 500)}`;
            return false;
          }
          if (operation.method !== 'GET' && response.statusCode < 300) await keepAlive(t, a);
          return true;
        }),
        { numRuns: RUNS_PER_OPERATION, endOnFailure: true },
      );
      // The counterexample itself can be megabytes (deep nesting); the request summary says enough.
      if (result.failed) throw new Error(`${failure ?? String(result.errorInstance)}\n  replay with seed ${result.seed}, path ${result.counterexamplePath}`);
    });
  }
});
