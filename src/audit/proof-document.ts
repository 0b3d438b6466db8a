import type { JsonWebKey } from 'node:crypto';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { verifyTreeHead } from './checkpoint.js';
import type { TreeHead } from './checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';

/**
 * The JSON documents the proof routes return and `rampart audit verify-proof` checks offline.
 * Each carries the signed checkpoint(s) it is proven against, so a tenant needs only the document
 * and Rampart's public audit key(s) — and, to rule out a forked log, its own copies of earlier
 * checkpoints (docs/security-model.md, "Audit checkpoints and proofs").
 *
 * One encoding per value, so two honest documents about the same thing are byte-identical:
 * hashes are lowercase hex, signatures base64url without padding, times `Date#toISOString()`.
 */

// Sizes stop at 2^53 - 1: a JSON number past it is silently rounded by parsers.
const TreeSize = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lowercase hex' });
const Tenant = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: "the org's id; 00000000-0000-0000-0000-000000000000 for the platform chain",
});
// The longest RFC 9162 proof for a tree below 2^53 leaves has 53 (inclusion) or 54 (consistency) hashes.
const ProofPath = Type.Array(Sha256Hex, { maxItems: 64, description: 'RFC 9162 proof, hashes in the order the RFC lists them' });

// Each schema and its static type share a name (TypeBox's convention): routes take the schema,
// code takes the type.

/** A signed tree head as documents carry it; its tenant is the document's. */
export const SignedCheckpoint = Type.Object(
  {
    size: TreeSize,
    root: Sha256Hex,
    time: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$', description: 'ISO 8601, UTC, milliseconds' }),
    signature: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$', description: 'Ed25519 over the tree head message, base64url' }),
    // Key ids are UUIDs today; the pattern also keeps terminal control characters out of the
    // CLI's messages, which quote the key_id of a document from anywhere.
    key_id: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'kid of the public key (JWK) that verifies the signature' }),
  },
  { additionalProperties: false },
);
export type SignedCheckpoint = Static<typeof SignedCheckpoint>;

/** Proof that the entry with `entry_hash` is entry `seq` of the tenant's log at the checkpoint. */
export const InclusionProofDocument = Type.Object(
  {
    type: Type.Literal('inclusion'),
    tenant: Tenant,
    seq: TreeSize,
    size: TreeSize,
    entry_hash: Sha256Hex,
    proof: ProofPath,
    checkpoint: SignedCheckpoint,
  },
  { additionalProperties: false },
);
export type InclusionProofDocument = Static<typeof InclusionProofDocument>;

/** Proof that the log at checkpoint `to` is the log at checkpoint `from` with entries appended. */
export const ConsistencyProofDocument = Type.Object(
  {
    type: Type.Literal('consistency'),
    tenant: Tenant,
    from: SignedCheckpoint,
    to: SignedCheckpoint,
    proof: ProofPath,
  },
  { additionalProperties: false },
);
export type ConsistencyProofDocument = Static<typeof ConsistencyProofDocument>;

/** Either document; `type` tells them apart. */
export const ProofDocument = Type.Union([InclusionProofDocument, ConsistencyProofDocument]);
export type ProofDocument = Static<typeof ProofDocument>;

/** The one way a stored, signed tree head becomes a document's checkpoint. */
export function toSignedCheckpoint(head: TreeHead, signature: Buffer, keyId: string): SignedCheckpoint {
  return { size: head.size, root: head.root.toString('hex'), time: head.time.toISOString(), signature: signature.toString('base64url'), key_id: keyId };
}

/** Why a document was not accepted: each a different conclusion for the tenant reading it. */
export type ProofFailure =
  | 'malformed' // not a proof document, or inconsistent with itself: nothing was checked
  | 'unknown_key' // no Ed25519 public key with the checkpoint's key_id among those given
  | 'bad_signature' // the checkpoint was not signed by that key: it is not Rampart's statement
  | 'proof_mismatch'; // the checkpoint is genuine but the proof does not prove the claim against it

export type ProofCheck = { valid: true } | { valid: false; failure: ProofFailure; reason: string };

const inclusionValidator = Compile(InclusionProofDocument);
const consistencyValidator = Compile(ConsistencyProofDocument);

/**
 * Checks a proof document offline: its shape, the checkpoint signature(s) with the public key
 * whose `kid` is the checkpoint's `key_id` (Ed25519 JWKs, as GET /v1/audit/keys publishes them), then
 * the RFC 9162 proof against the signed root(s). Stops at the first failure and says which.
 */
export function checkProofDocument(doc: unknown, publicKeys: JsonWebKey[]): ProofCheck {
  const type = isObject(doc) ? doc.type : undefined;
  if (type === 'inclusion') {
    if (!inclusionValidator.Check(doc)) return malformed(schemaError(inclusionValidator.Errors(doc)));
    return checkInclusion(doc, publicKeys);
  }
  if (type === 'consistency') {
    if (!consistencyValidator.Check(doc)) return malformed(schemaError(consistencyValidator.Errors(doc)));
    return checkConsistency(doc, publicKeys);
  }
  return malformed('type must be "inclusion" or "consistency"');
}

function checkInclusion(doc: InclusionProofDocument, publicKeys: JsonWebKey[]): ProofCheck {
  // The top-level size restates the checkpoint's so a reader sees the claim without the proof;
  // a document where they differ contradicts itself.
  if (doc.size !== doc.checkpoint.size) return malformed(`size ${doc.size} differs from the checkpoint's size ${doc.checkpoint.size}`);
  if (doc.seq >= doc.size) return malformed(`seq ${doc.seq} is not below the size ${doc.size}`);
  const signed = checkSignature(doc.tenant, doc.checkpoint, 'checkpoint', publicKeys);
  if (!signed.valid) return signed;
  const leaf = leafHash(Buffer.from(doc.entry_hash, 'hex'));
  if (!verifyInclusion(doc.seq, doc.size, leaf, hexList(doc.proof), Buffer.from(doc.checkpoint.root, 'hex'))) {
    return { valid: false, failure: 'proof_mismatch', reason: `the proof does not show entry ${doc.seq} with this hash in the signed tree of ${doc.size} entries` };
  }
  return { valid: true };
}

function checkConsistency(doc: ConsistencyProofDocument, publicKeys: JsonWebKey[]): ProofCheck {
  if (doc.from.size > doc.to.size) return malformed(`from.size ${doc.from.size} is above to.size ${doc.to.size}: a log never shrinks`);
  for (const [name, checkpoint] of [['from', doc.from], ['to', doc.to]] as const) {
    const signed = checkSignature(doc.tenant, checkpoint, name, publicKeys);
    if (!signed.valid) return signed;
  }
  if (!verifyConsistency(doc.from.size, doc.to.size, hexList(doc.proof), Buffer.from(doc.from.root, 'hex'), Buffer.from(doc.to.root, 'hex'))) {
    return { valid: false, failure: 'proof_mismatch', reason: `the proof does not show the signed tree of ${doc.to.size} entries extending the signed tree of ${doc.from.size}` };
  }
  return { valid: true };
}

function checkSignature(tenant: string, checkpoint: SignedCheckpoint, name: string, publicKeys: JsonWebKey[]): ProofCheck {
  const time = new Date(checkpoint.time);
  // The pattern admits "2026-02-30T..."; the signed message holds Date#toISOString(), so only a
  // time that survives the round trip is the one that was signed.
  if (Number.isNaN(time.getTime()) || time.toISOString() !== checkpoint.time) return malformed(`${name}.time ${checkpoint.time} is not a real instant`);
  // The keys may come from a file the CLI read: anything in the list that is not such a key is skipped.
  const key = publicKeys.find(
    (candidate: unknown) => isObject(candidate) && candidate.kid === checkpoint.key_id && candidate.kty === 'OKP' && candidate.crv === 'Ed25519',
  );
  if (!key) return { valid: false, failure: 'unknown_key', reason: `no Ed25519 public key has the ${name}'s key_id ${checkpoint.key_id}` };
  const head: TreeHead = { tenant, size: checkpoint.size, root: Buffer.from(checkpoint.root, 'hex'), time };
  if (!verifyTreeHead(key, head, Buffer.from(checkpoint.signature, 'base64url'))) {
    return { valid: false, failure: 'bad_signature', reason: `the ${name}'s signature does not verify with key ${checkpoint.key_id}` };
  }
  return { valid: true };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function malformed(reason: string): ProofCheck {
  return { valid: false, failure: 'malformed', reason };
}

/** The first schema error as "where: what"; the others are usually its consequences. */
function schemaError(errors: { instancePath: string; message: string; keyword: string }[]): string {
  const error = errors[0];
  if (!error) return 'not a proof document';
  const where = error.instancePath === '' ? 'document' : error.instancePath;
  // TypeBox words an unknown property as the `false` schema it fails ("schema is false").
  return `${where}: ${error.keyword === 'boolean' ? 'is not a field of a proof document' : error.message}`;
}

function hexList(hashes: string[]): Buffer[] {
  return hashes.map((hash) => Buffer.from(hash, 'hex'));
}
