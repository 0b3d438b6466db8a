import { it } from 'vitest';
import { appendFileSync } from 'node:fs';
import { FakeClock } from './test/helpers/clock.js';
import { drainJobs, PASSWORD, RELAXED_LIMITS, useIdentityApp } from './test/identity/support.js';
const DAY = 86_400_000;
const clock = new FakeClock(new Date());
const ctx = useIdentityApp(RELAXED_LIMITS, { clock });
it('phases', async () => {
  let s = Date.now();
  const lap = (l: string) => { appendFileSync('/tmp/sc/phases.txt', `${l} ${Date.now() - s}\n`); s = Date.now(); };
  const { email, tokens } = await ctx.api.account(); lap('account');
  await ctx.api.tokens(email); lap('tokens');
  await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me', { password: 'not the password at all' }); lap('wrong');
  await ctx.api.as(tokens.access_token, 'DELETE', '/v1/me', { password: PASSWORD }); lap('delete');
  await ctx.api.login(email); lap('login');
  await drainJobs(ctx.t); lap('drain1');
  clock.advance(30 * DAY + 60000);
  await drainJobs(ctx.t); lap('drain2');
}, 120000);
