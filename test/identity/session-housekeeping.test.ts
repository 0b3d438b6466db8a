import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { freshEmail, identityClient, PASSWORD, RELAXED_LIMITS } from './support.js';
import type { Tokens } from './support.js';

const DAY = 86_400_000;

describe('session housekeeping', () => {
  const clock = new FakeClock('2026-11-01T08:00:00Z');
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
  }, 60_000);
  afterAll(async () => t.close());

  it('lists only sessions that can still be refreshed, leaving out idle ones', async () => {
    const api = identityClient(t);
    const email = freshEmail();
    await api.account(email);
    const idle = await api.tokens(email);
    clock.advance(6 * DAY);
    const active = await api.tokens(email);
    clock.advance(2 * DAY);
    const refreshed = (await api.refresh(active.refresh_token)).json<Tokens>();
    const listed = (await api.as(refreshed.access_token, 'GET', '/v1/me/sessions')).json<{ data: Array<{ current: boolean }> }>().data;
    expect(listed).toEqual([expect.objectContaining({ current: true })]);
    // The idle session cannot be refreshed either: the list tells the truth.
    expect((await api.refresh(idle.refresh_token)).statusCode).toBe(401);
  });

  it('purges sessions and one-time tokens that ended more than 30 days ago, and nothing else', async () => {
    const api = identityClient(t);
    const email = freshEmail();
    const { id, tokens } = await api.account(email);
    const ended = (await api.as(tokens.access_token, 'GET', '/v1/me/sessions')).json<{ data: Array<{ id: string }> }>().data[0]!.id;
    await api.as(tokens.access_token, 'POST', '/v1/auth/logout');
    const db = t.db.database.db;
    const sessionIds = async () => (await db.selectFrom('sessions').select('id').where('principal_id', '=', id).execute()).map((row) => row.id);
    const purge = async (key: string) => {
      await t.app.jobs.enqueue(db, 'identity.purge_ended_sessions', {}, { idempotencyKey: key });
      await t.app.worker.runOnce();
    };

    await purge('first');
    expect(await sessionIds()).toContain(ended);

    clock.advance(32 * DAY);
    const live = await api.tokens(email, PASSWORD);
    await purge('second');
    const remaining = await sessionIds();
    expect(remaining).not.toContain(ended);
    expect(remaining).toHaveLength(1);
    expect((await api.me(live.access_token)).statusCode).toBe(200);
    // The sign-up's verification link expired a day after sign-up, more than 30 days ago.
    expect(await db.selectFrom('one_time_tokens').select('purpose').where('principal_id', '=', id).execute()).toEqual([]);
  });
});
