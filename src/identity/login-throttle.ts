import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { Clock } from '../platform/clock.js';
import { systemClock } from '../platform/clock.js';
import type { Realm } from '../platform/db/index.js';
import { httpErrors } from '../platform/http/index.js';
import { hashSecretToken } from './secret-tokens.js';

/** Failures allowed before the first delay; after that each failure doubles the delay. */
const FREE_FAILURES = 5;
const FIRST_DELAY_SECONDS = 30;
const MAX_DELAY_SECONDS = 15 * 60;
/** Consecutive failures are forgotten after a day without any. */
const FAILURE_MEMORY_SECONDS = 24 * 3600;

export interface LoginThrottle {
  /** The throttle key of an account: a keyed hash of realm and email, so no address is stored. */
  keyFor(realm: Realm, email: string): string;
  /** Throws 429 with Retry-After while the account is in a delay window. */
  assertAllowed(accountKey: string): Promise<void>;
  recordFailure(accountKey: string): Promise<void>;
  recordSuccess(accountKey: string): Promise<void>;
}

/**
 * Growing delays per account, whatever IP the guesses come from (per-IP limits are the route's
 * `auth` bucket). Keyed by a keyed hash of the email, so unknown accounts are throttled exactly
 * like real ones: the delay reveals nothing. The delay is a window, not a lock: once it passes,
 * the owner signs in from anywhere. Shared through Redis when configured.
 *
 * The window's end is measured on `clock` (so tests move time rather than wait); the stores'
 * own expiry only clears entries that can no longer matter.
 */
export function createLoginThrottle(redis: Redis | null, hashKey: Buffer, clock: Clock = systemClock): LoginThrottle {
  function limiter(keyPrefix: string, points: number, duration: number): RateLimiterAbstract {
    const options = { keyPrefix, points, duration };
    const memory = new RateLimiterMemory(options);
    return redis ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: memory }) : memory;
  }
  const failures = limiter('rampart:login:failures', 1_000_000, FAILURE_MEMORY_SECONDS);
  // Holds, per account, the end of its delay window in epoch milliseconds (stored as the entry's points).
  const delays = limiter('rampart:login:delay', Number.MAX_SAFE_INTEGER, MAX_DELAY_SECONDS);

  return {
    keyFor: (realm, email) => `${realm}:${hashSecretToken(hashKey, email).toString('base64url')}`,

    async assertAllowed(accountKey) {
      const until = (await delays.get(accountKey))?.consumedPoints ?? 0;
      const remainingMs = until - clock.now().getTime();
      if (remainingMs > 0) {
        throw httpErrors.rate_limited('Too many failed sign-ins for this account; retry after the time in Retry-After', {
          headers: { 'retry-after': String(Math.ceil(remainingMs / 1000)) },
        });
      }
    },
    async recordFailure(accountKey) {
      const count = (await failures.penalty(accountKey, 1)).consumedPoints;
      if (count < FREE_FAILURES) return;
      const seconds = Math.min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (count - FREE_FAILURES));
      await delays.set(accountKey, clock.now().getTime() + seconds * 1000, seconds);
    },
    async recordSuccess(accountKey) {
      await Promise.all([failures.delete(accountKey), delays.delete(accountKey)]);
    },
  };
}
