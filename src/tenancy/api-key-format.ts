import { randomBytes, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Org API keys: `rk_` + base64url(16-byte key id ‖ 32-byte secret) + `_` + base64url(CRC32 of
 * everything before it). The id finds the row, the 256-bit secret is the credential, and the
 * checksum lets a mistyped or truncated key be refused before any database work. The checksum
 * is not a secret: anyone can compute it, so it only filters typos, never forgeries.
 */
export const API_KEY_PREFIX = 'rk_';

const ID_BYTES = 16;
const SECRET_BYTES = 32;
// 48 bytes encode to exactly 64 base64url characters, 4 checksum bytes to 6: no padding anywhere.
const BODY_CHARS = 64;
const CHECKSUM_CHARS = 6;
const SHAPE = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${BODY_CHARS}}_[A-Za-z0-9_-]{${CHECKSUM_CHARS}}$`);

export interface ParsedApiKey {
  /** The key id, as the UUID stored in `api_keys.key_id`. */
  keyId: string;
}

function checksumOf(unchecked: string): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(unchecked));
  return sum.toString('base64url');
}

function uuidOf(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new key: its id (a v4 UUID) and the full key string to show once. */
export function generateApiKey(): { keyId: string; key: string } {
  const keyId = randomUUID();
  const body = Buffer.concat([Buffer.from(keyId.replaceAll('-', ''), 'hex'), randomBytes(SECRET_BYTES)]).toString('base64url');
  const unchecked = `${API_KEY_PREFIX}${body}`;
  return { keyId, key: `${unchecked}_${checksumOf(unchecked)}` };
}

/** The key id of a well-formed key with a correct checksum; null for anything else. */
export function parseApiKey(key: string): ParsedApiKey | null {
  if (!SHAPE.test(key)) return null;
  const unchecked = key.slice(0, API_KEY_PREFIX.length + BODY_CHARS);
  if (key.slice(-CHECKSUM_CHARS) !== checksumOf(unchecked)) return null;
  // 64 characters carry exactly 48 bytes (no spare bits), so the text and the bytes map one to one.
  const body = Buffer.from(unchecked.slice(API_KEY_PREFIX.length), 'base64url');
  return { keyId: uuidOf(body.subarray(0, ID_BYTES)) };
}
