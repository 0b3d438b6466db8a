import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** A new random token (256 bits, base64url) to hand out once; only its keyed hash is stored. */
export function generateSecretToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

// Lower-case letters and digits without look-alikes (no i, l, o, 0, 1): 31 characters.
const READABLE_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * A secret meant to be read and typed by a person (recovery codes, initial passwords), in groups
 * joined by dashes: log2(31) ≈ 4.95 bits per character. randomInt, not `byte % 31`, so every
 * character is equally likely.
 */
export function generateReadableSecret(groups: number, groupLength: number): string {
  return Array.from({ length: groups }, () =>
    Array.from({ length: groupLength }, () => READABLE_ALPHABET[randomInt(READABLE_ALPHABET.length)]).join(''),
  ).join('-');
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
