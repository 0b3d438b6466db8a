import argon2 from 'argon2';
import type { IdentityConfig } from '../config.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** `needsRehash`: the hash was made with other parameters and should be replaced now. */
  verify(hash: string, password: string): Promise<{ valid: boolean; needsRehash: boolean }>;
  /** Spends the same time as a real verification; used when there is no account to check. */
  verifyDummy(password: string): Promise<void>;
}

/**
 * NFKC before hashing (NIST SP 800-63B 5.1.1.2): "é" typed as one code point on one keyboard and
 * as "e" plus a combining accent on another is the same password.
 */
function normalized(password: string): string {
  return password.normalize('NFKC');
}

// libuv's thread pool also runs WebCrypto (every token signature and verification) and file I/O.
// Hashing never takes all of it, so a sign-in storm (or credential stuffing with unknown emails)
// cannot make every signed-in user's request wait behind it (measured: docs/benchmarks.md).
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const MAX_CONCURRENT_HASHES = Math.max(1, THREAD_POOL_SIZE - 1);

/** Runs at most `limit` tasks at once; the others wait in arrival order. */
function createLimiter(limit: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/**
 * argon2id through the native `argon2` binding, which hashes on libuv's thread pool: the event
 * loop stays free while a sign-in storm hashes.
 */
export async function createPasswordHasher(params: IdentityConfig['argon2']): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, memoryCost: params.memoryKiB, timeCost: params.timeCost, parallelism: params.parallelism } as const;
  const limited = createLimiter(MAX_CONCURRENT_HASHES);
  // Made once with the current parameters, so an unknown email costs what a known one does.
  const dummyHash = await argon2.hash('rampart-dummy-password-for-timing', options);
  return {
    hash: (password) => limited(() => argon2.hash(normalized(password), options)),
    async verify(hash, password) {
      const valid = await limited(() => argon2.verify(hash, normalized(password)));
      return { valid, needsRehash: valid && argon2.needsRehash(hash, options) };
    },
    async verifyDummy(password) {
      await limited(() => argon2.verify(dummyHash, normalized(password)));
    },
  };
}
