import { createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import canonicalize from 'canonicalize';
import { HASH_BYTES } from './merkle.js';

/**
 * Signed tree heads ("checkpoints"): Rampart's signed statement that a tenant's audit tree had
 * `size` entries with root `root` at `time`. A tenant that keeps copies of them can later prove,
 * with the public key alone, that an entry is in the log and that the log was only appended to.
 */
export interface TreeHead {
  tenant: string;
  size: number;
  root: Buffer;
  time: Date;
}

/**
 * Names what the signed bytes are. A signature over a tree head can then never be passed off as
 * a signature over any other JSON the same key might sign one day, and a future format is told
 * apart from this one rather than misread.
 */
export const TREE_HEAD_FORMAT = 'rampart.audit.tree-head.v1';
/** Bytes in an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/**
 * The exact bytes that are signed: RFC 8785 canonical JSON of
 * `{format, tenant, size, root (lowercase hex), time (ISO 8601, UTC, milliseconds)}`.
 * Canonical JSON because a verifier rebuilds these bytes from a JSON document with any JSON
 * library in any language; RFC 8785 fixes key order, spacing and number formatting for it.
 */
export function treeHeadMessage(head: TreeHead): Buffer {
  if (typeof head.tenant !== 'string' || head.tenant === '') throw new TypeError('tree head tenant must be a non-empty string');
  // Safe integers only: JSON numbers past 2^53 - 1 do not survive a round trip through a parser.
  if (!Number.isSafeInteger(head.size) || head.size < 0) throw new RangeError(`tree head size must be a safe non-negative integer, got ${head.size}`);
  if (!Buffer.isBuffer(head.root) || head.root.length !== HASH_BYTES) throw new RangeError(`tree head root must be a ${HASH_BYTES}-byte hash`);
  if (!(head.time instanceof Date) || Number.isNaN(head.time.getTime())) throw new RangeError('tree head time must be a valid date');
  const json = canonicalize({
    format: TREE_HEAD_FORMAT,
    tenant: head.tenant,
    size: head.size,
    root: head.root.toString('hex'),
    time: head.time.toISOString(),
  });
  return Buffer.from(json!, 'utf8');
}

/** Signs a tree head with the Ed25519 'audit-checkpoint' key (src/crypto/signing-keys.ts). */
export function signTreeHead(privateKey: KeyObject, head: TreeHead): Buffer {
  // Another key type would sign with another scheme, which verifiers (and tenants) do not expect.
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('tree heads are signed with an Ed25519 key');
  return sign(null, treeHeadMessage(head), privateKey);
}

/**
 * True when `signature` is a valid Ed25519 signature by `publicKey` (a KeyObject, or a public JWK
 * as listPublicKeys returns) over this tree head. Never throws: a malformed key, head or
 * signature is simply not a valid signature.
 */
export function verifyTreeHead(publicKey: KeyObject | JsonWebKey, head: TreeHead, signature: Buffer): boolean {
  try {
    const key = publicKey instanceof KeyObject ? publicKey : createPublicKey({ key: publicKey, format: 'jwk' });
    if (key.asymmetricKeyType !== 'ed25519' || !Buffer.isBuffer(signature) || signature.length !== SIGNATURE_BYTES) return false;
    return verify(null, treeHeadMessage(head), key, signature);
  } catch {
    return false;
  }
}
