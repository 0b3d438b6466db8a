import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The vault's ciphertext format (docs/decisions/0020-vault-envelope-encryption.md):
 *
 *   version (1) = 1 | data key id (16, a UUID) | KEK version at writing (4, big-endian)
 *   | nonce (12) | ciphertext | GCM tag (16)
 *
 * The header names the data key, so data stays readable after the tenant key rotates and a rewrap
 * moves the data key under the new version. The associated data is the header followed by where
 * the value belongs (tenant, collection, record key, field): a ciphertext moved to another row,
 * tenant or field, or with an altered header, fails authentication.
 */
export const ENVELOPE_VERSION = 1;
const KEY_ID_BYTES = 16;
export const HEADER_BYTES = 1 + KEY_ID_BYTES + 4;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** Where a ciphertext belongs; every part is bound into its associated data. */
export interface EnvelopeContext {
  tenantId: string;
  collection: string;
  recordKey: string;
  field: string;
}

export interface EnvelopeHeader {
  keyId: string;
  kekVersion: number;
}

/** Thrown when a value is not a vault envelope or fails authentication (moved, altered or truncated). */
export class UndecryptableError extends Error {
  override readonly name = 'UndecryptableError';
}

/** A Buffer view of bytes from the database (PGlite returns bytea as a plain Uint8Array), without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeHeader({ keyId, kekVersion }: EnvelopeHeader): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = ENVELOPE_VERSION;
  Buffer.from(keyId.replace(/-/g, ''), 'hex').copy(header, 1);
  header.writeUInt32BE(kekVersion, 1 + KEY_ID_BYTES);
  return header;
}

/** Reads the header of an envelope (or of an encrypted file); throws UndecryptableError if it is none. */
export function parseHeader(bytes: Uint8Array): EnvelopeHeader {
  const value = asBuffer(bytes);
  if (value.length < HEADER_BYTES || value[0] !== ENVELOPE_VERSION) throw new UndecryptableError('not a vault envelope of a known version');
  const hex = value.toString('hex', 1, 1 + KEY_ID_BYTES);
  const keyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { keyId, kekVersion: value.readUInt32BE(1 + KEY_ID_BYTES) };
}

/** The associated data of a value: its header and its place, unambiguously encoded. */
export function associatedData(header: Buffer, context: EnvelopeContext, ...extra: Array<string | number>): Buffer {
  const place = JSON.stringify([context.tenantId, context.collection, context.recordKey, context.field, ...extra]);
  return Buffer.concat([header, Buffer.from(place, 'utf8')]);
}

/** Encrypts `plaintext` under `dataKey` with a fresh 96-bit nonce. */
export function sealEnvelope(dataKey: Buffer, header: EnvelopeHeader, context: EnvelopeContext, plaintext: Buffer): Buffer {
  const headerBytes = encodeHeader(header);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
  cipher.setAAD(associatedData(headerBytes, context));
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([headerBytes, nonce, body, cipher.getAuthTag()]);
}

/** Decrypts an envelope whose header named `dataKey`; throws UndecryptableError on any mismatch. */
export function openEnvelope(dataKey: Buffer, bytes: Uint8Array, context: EnvelopeContext): Buffer {
  const envelope = asBuffer(bytes);
  if (envelope.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES) throw new UndecryptableError('envelope too short');
  const headerBytes = envelope.subarray(0, HEADER_BYTES);
  const nonce = envelope.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const tag = envelope.subarray(envelope.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce);
    decipher.setAAD(associatedData(headerBytes, context));
    decipher.setAuthTag(tag);
    const body = decipher.update(envelope.subarray(HEADER_BYTES + NONCE_BYTES, envelope.length - TAG_BYTES));
    // GCM's final() only checks the tag (it returns nothing): no second copy of the plaintext.
    decipher.final();
    return body;
  } catch {
    throw new UndecryptableError('envelope failed authentication');
  }
}
