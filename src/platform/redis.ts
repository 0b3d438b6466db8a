import { Redis } from 'ioredis';

/**
 * A Redis client that fails fast instead of queueing commands while disconnected: callers have
 * in-process fallbacks (rate limits, revocation) and must not hang on a dead Redis.
 */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
  });
  // Without a listener, ioredis reports connection errors as unhandled; reconnection is automatic.
  redis.on('error', () => undefined);
  return redis;
}
