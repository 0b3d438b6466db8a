/**
 * Regression tests for what the OpenAPI fuzzer (openapi.fuzz.test.ts) found, one per finding, so
 * each stays fixed even if a later fuzz run happens not to generate the same request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { bearer, freshEmail, identityClient, RELAXED_LIMITS } from '../identity/support.js';
import { operationsOf } from './openapi-operations.js';
import type { OpenApiDocument, Operation } from './openapi-operations.js';

describe('fuzz findings', () => {
  let t: TestApp;
  let operations: Operation[];

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    operations = operationsOf((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>());
  });
  afterAll(async () => t?.close());

  const declared = (id: string) => Object.keys(operations.find((operation) => operation.id === id)?.responses ?? {});

  it('FST_ERR_MAX_PARAM_LENGTH: an overlong path parameter answers 414 in the error shape, without echoing the URL', async () => {
    const secret = `secret${'x'.repeat(600)}`;
    const response = await t.app.inject({ method: 'GET', url: `/v1/orgs/${secret}` });
    expect(response.statusCode).toBe(414);
    expect(response.json()).toEqual({ error: { code: 'uri_too_long', message: expect.any(String), request_id: expect.any(String) } });
    expect(response.body).not.toContain('secret');
    expect(declared('GET /v1/orgs/{org}')).toContain('414');
  });

  it('FST_ERR_BAD_URL: a malformed percent-encoding in a path parameter answers 400 in the error shape', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/orgs/%E0%A4%A' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'invalid_request', message: expect.any(String), request_id: expect.any(String) } });
    expect(response.body).not.toContain('%E0');
  });

  it('undeclared 415: every operation that takes a body declares the 400, 413 and 415 its parser answers', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(response.statusCode).toBe(415);
    for (const operation of operations.filter((candidate) => candidate.method !== 'GET')) {
      expect(declared(operation.id), operation.id).toEqual(expect.arrayContaining(['400', '413', '415', '503']));
    }
  });

  it('undeclared 400: a route whose only input is a path parameter declares the 400 its validation answers', async () => {
    const api = identityClient(t);
    const { tokens } = await api.account(freshEmail('finding'));
    const response = await t.app.inject({ method: 'GET', url: `/v1/orgs/${'e'.repeat(65)}/members`, headers: bearer(tokens.access_token) });
    expect(response.statusCode).toBe(400);
    expect(declared('GET /v1/orgs/{org}/members')).toContain('400');
  });

  it('password/forgot answered 202 with a JSON null where no body is declared', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: freshEmail('nobody') } });
    expect(response.statusCode).toBe(202);
    expect(response.body).toBe('');
  });

  it('DELETE /v1/me answered an undeclared 409 (last owner of an org)', async () => {
    const api = identityClient(t);
    const { tokens } = await api.account(freshEmail('owner'));
    expect((await api.as(tokens.access_token, 'POST', '/v1/orgs', { name: 'Only Owner' })).statusCode).toBe(201);
    const response = await api.as(tokens.access_token, 'DELETE', '/v1/me', {});
    expect(response.statusCode).toBe(409);
    expect(declared('DELETE /v1/me')).toContain('409');
  });
});
