import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { RateLimitConfig } from '../../config.js';
import { httpErrors } from './errors.js';

/** The buckets a request can draw from. */
export type RateLimitBucket = 'ip' | 'auth' | 'account';

export interface RateLimiter {
  /** Takes one point from `bucket` for `key`; throws 429 `rate_limited` with Retry-After when empty. */
  consume(bucket: RateLimitBucket, key: string): Promise<void>;
}

const WINDOW_SECONDS = 60;

/**
 * Fixed one-minute windows per bucket and key. With Redis the counters are shared by every node;
 * if Redis stops answering, each node falls back to its own in-memory counters rather than
 * switching limits off (an attacker must not gain by taking Redis down).
 */
export function createRateLimiter(config: RateLimitConfig, redis: Redis | null): RateLimiter {
  const points: Record<RateLimitBucket, number> = { ip: config.perIp, auth: config.authPerIp, account: config.perAccount };
  const limiters = Object.fromEntries(
    (Object.keys(points) as RateLimitBucket[]).map((bucket) => {
      const options = { keyPrefix: `rampart:rl:${bucket}`, points: points[bucket], duration: WINDOW_SECONDS };
      const memory = new RateLimiterMemory(options);
      const limiter: RateLimiterAbstract = redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: memory })
        : memory;
      return [bucket, limiter];
    }),
  ) as Record<RateLimitBucket, RateLimiterAbstract>;

  return {
    async consume(bucket, key) {
      try {
        await limiters[bucket].consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw httpErrors.rate_limited(undefined, { headers: { 'retry-after': String(retryAfter) } });
      }
    },
  };
}
