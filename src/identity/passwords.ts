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

/**
 * argon2id through the native `argon2` binding, which hashes on libuv's thread pool: the event
 * loop stays free while a sign-in storm hashes.
 */
export async function createPasswordHasher(params: IdentityConfig['argon2']): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, memoryCost: params.memoryKiB, timeCost: params.timeCost, parallelism: params.parallelism } as const;
  // Made once with the current parameters, so an unknown email costs what a known one does.
  const dummyHash = await argon2.hash('rampart-dummy-password-for-timing', options);
  return {
    hash: (password) => argon2.hash(normalized(password), options),
    async verify(hash, password) {
      const valid = await argon2.verify(hash, normalized(password));
      return { valid, needsRehash: valid && argon2.needsRehash(hash, options) };
    },
    async verifyDummy(password) {
      await argon2.verify(dummyHash, normalized(password));
    },
  };
}
