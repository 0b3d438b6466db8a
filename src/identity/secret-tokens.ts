import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new random token (256 bits, base64url) to hand out once; only its keyed hash is stored. */
export function generateSecretToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Keyed hash of a token or code for storage and lookup. Keyed (HMAC) rather than bare SHA-256 so
 * a stolen database cannot even be used to test guesses of low-entropy codes offline.
 */
export function hashSecretToken(key: Buffer, token: string): Buffer {
  return createHmac('sha256', key).update(token, 'utf8').digest();
}

/** Constant-time equality for secrets of possibly different lengths. */
export function secretsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
