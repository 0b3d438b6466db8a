import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openPostgres } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { adminQuery, withDatabase } from '../helpers/global-setup.js';
import { bearer, freshEmail, PASSWORD, RELAXED_LIMITS } from '../identity/support.js';

const baseUrl = process.env.DATABASE_URL;

/**
 * Production connects as a schema owner that is not a superuser (docs/operations.md, "Production
 * checklist"): row-level security is forced on it too, and migrations may not use what only a
 * superuser may. The rest of the suite runs as the local superuser, which would hide both.
 */
describe.skipIf(!baseUrl)('Rampart as a schema owner that is not a superuser', () => {
  const name = `rampart_nsu_${randomBytes(6).toString('hex')}`;
  let t: TestApp;

  beforeAll(async () => {
    await adminQuery(baseUrl!, `create role ${name} login createrole nosuperuser nobypassrls`);
    await adminQuery(baseUrl!, `create database ${name} owner ${name}`);
    const url = new URL(withDatabase(baseUrl!, name));
    url.username = name;
    url.password = '';
    const database = openPostgres(url.toString(), 4);
    await migrate(database.db);
    t = await createTestApp(RELAXED_LIMITS, { db: { database, url: url.toString(), drop: () => database.close() } });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await adminQuery(baseUrl!, `drop database if exists ${name} with (force)`);
    // The role owns nothing outside the dropped database, but was granted the roles migrations made.
    await adminQuery(baseUrl!, `drop role if exists ${name}`);
  });

  it('migrates, and serves sign-up, orgs, the vault and a verifiable audit chain', async () => {
    const email = freshEmail('nsu');
    expect((await t.app.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password: PASSWORD } })).statusCode).toBe(201);
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } });
    expect(login.statusCode, login.body).toBe(200);
    const auth = bearer(login.json<{ access_token: string }>().access_token);

    const created = await t.app.inject({ method: 'POST', url: '/v1/orgs', headers: auth, payload: { name: 'Least Privilege Co' } });
    expect(created.statusCode, created.body).toBe(201);
    const org = created.json<{ id: string }>().id;

    const stored = await t.app.inject({ method: 'PUT', url: `/v1/orgs/${org}/records/guests/g-1`, headers: auth, payload: { data: { name: 'Ada' }, subject_id: 'guest-1' } });
    expect(stored.statusCode, stored.body).toBe(201);
    const read = await t.app.inject({ method: 'GET', url: `/v1/orgs/${org}/records/guests/g-1`, headers: auth });
    expect(read.json<{ data: unknown }>().data).toEqual({ name: 'Ada' });

    const events = await t.app.inject({ method: 'GET', url: `/v1/orgs/${org}/audit`, headers: auth });
    expect(events.statusCode, events.body).toBe(200);
    expect(events.json<{ data: Array<{ action: string; ip: string | null }> }>().data.map((event) => event.action)).toEqual(
      expect.arrayContaining(['org.created', 'record.read']),
    );
    const verified = await t.app.inject({ method: 'GET', url: `/v1/orgs/${org}/audit/verify`, headers: auth });
    expect(verified.json()).toMatchObject({ valid: true });
  });
});
