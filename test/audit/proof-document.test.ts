import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signTreeHead, treeHeadMessage, verifyTreeHead } from '../../src/audit/checkpoint.js';
import type { TreeHead } from '../../src/audit/checkpoint.js';
import { appendLeaf, buildConsistencyProof, buildInclusionProof, leafHash, nodeRefKey, rootOfFrontier } from '../../src/audit/merkle.js';
import type { NodeRef } from '../../src/audit/merkle.js';
import { checkProofDocument, toSignedCheckpoint } from '../../src/audit/proof-document.js';
import type { ConsistencyProofDocument, InclusionProofDocument, ProofFailure } from '../../src/audit/proof-document.js';

/*
 * A tenant checks these documents offline with nothing but Rampart's public keys. Each test
 * changes one thing an attacker (or a broken server) could change and expects the precise
 * failure: a forged or altered checkpoint is a bad signature, a genuine checkpoint with a proof
 * that does not fit is a proof mismatch, a key nobody published is unknown, and a document that
 * contradicts itself is malformed before any cryptography runs.
 */

const TENANT = '0b6f7c1e-5d1a-4c55-9a31-2f8f3a0c9e11';

/** An Ed25519 key as src/crypto/signing-keys.ts makes and publishes it. */
function signingKey(): { kid: string; privateKey: KeyObject; publicJwk: JsonWebKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' } };
}

const entryHash = (seq: number, salt = 'entry'): Buffer => createHash('sha256').update(`${salt}:${seq}`).digest();

/** An audit tree kept as storage keeps it: every perfect node, and the root of every size. */
function auditTree(size: number, salt = 'entry') {
  const nodes = new Map<string, Buffer>();
  const roots = [rootOfFrontier([])];
  let frontier: Buffer[] = [];
  for (let seq = 0; seq < size; seq++) {
    const leaf = leafHash(entryHash(seq, salt));
    nodes.set(nodeRefKey({ level: 0, index: seq }), leaf);
    const appended = appendLeaf(frontier, seq, leaf);
    appended.completed.forEach((node, i) => nodes.set(nodeRefKey({ level: i + 1, index: Math.floor(seq / 2 ** (i + 1)) }), node));
    frontier = appended.frontier;
    roots.push(rootOfFrontier(frontier));
  }
  return { roots, node: (ref: NodeRef) => nodes.get(nodeRefKey(ref))! };
}

const key = signingKey();
const otherKey = signingKey();
const keys = [otherKey.publicJwk, key.publicJwk];
const tree = auditTree(50);

function checkpoint(size: number, options: { root?: Buffer; signer?: typeof key; time?: Date; tenant?: string } = {}) {
  const head: TreeHead = { tenant: options.tenant ?? TENANT, size, root: options.root ?? tree.roots[size]!, time: options.time ?? new Date('2026-11-30T10:00:00.000Z') };
  const signer = options.signer ?? key;
  return toSignedCheckpoint(head, signTreeHead(signer.privateKey, head), signer.kid);
}

function inclusionDocument(seq: number, size: number): InclusionProofDocument {
  return {
    type: 'inclusion',
    tenant: TENANT,
    seq,
    size,
    entry_hash: entryHash(seq).toString('hex'),
    proof: buildInclusionProof(seq, size, tree.node).map((hash) => hash.toString('hex')),
    checkpoint: checkpoint(size),
  };
}

function consistencyDocument(from: number, to: number): ConsistencyProofDocument {
  return { type: 'consistency', tenant: TENANT, from: checkpoint(from), to: checkpoint(to), proof: buildConsistencyProof(from, to, tree.node).map((hash) => hash.toString('hex')) };
}

function expectFailure(doc: unknown, failure: ProofFailure, reason?: RegExp, publicKeys: JsonWebKey[] = keys): void {
  const check = checkProofDocument(doc, publicKeys);
  expect(check).toMatchObject({ valid: false, failure });
  if (reason && !check.valid) expect(check.reason).toMatch(reason);
}

const flipHex = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

describe('signed tree heads', () => {
  const head: TreeHead = { tenant: TENANT, size: 42, root: tree.roots[42]!, time: new Date('2026-11-30T10:00:00.000Z') };

  it('sign exactly the canonical JSON a verifier in any language rebuilds', () => {
    expect(treeHeadMessage(head).toString('utf8')).toBe(
      `{"format":"rampart.audit.tree-head.v1","root":"${tree.roots[42]!.toString('hex')}","size":42,"tenant":"${TENANT}","time":"2026-11-30T10:00:00.000Z"}`,
    );
  });

  it('verify with the signing key, as a KeyObject or as its published JWK', () => {
    const signature = signTreeHead(key.privateKey, head);
    expect(signature).toHaveLength(64);
    expect(verifyTreeHead(key.publicJwk, head, signature)).toBe(true);
    expect(verifyTreeHead(generateKeyPairSync('ed25519').publicKey, head, signature)).toBe(false);
  });

  it('reject a changed size, root, time or tenant, and a signature by another key', () => {
    const signature = signTreeHead(key.privateKey, head);
    expect(verifyTreeHead(key.publicJwk, { ...head, size: 43 }, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, { ...head, root: tree.roots[41]! }, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, { ...head, time: new Date(head.time.getTime() + 1) }, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, { ...head, tenant: randomUUID() }, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, head, signTreeHead(otherKey.privateKey, head))).toBe(false);
  });

  it('reject, without throwing, what is not a signature, a key or a tree head', () => {
    const signature = signTreeHead(key.privateKey, head);
    expect(verifyTreeHead(key.publicJwk, head, signature.subarray(0, 63))).toBe(false);
    expect(verifyTreeHead({ kty: 'OKP', crv: 'Ed25519', x: 'not a key' }, head, signature)).toBe(false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(verifyTreeHead(rsa, head, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, { ...head, time: new Date(Number.NaN) }, signature)).toBe(false);
    expect(verifyTreeHead(key.publicJwk, { ...head, root: Buffer.alloc(3) }, signature)).toBe(false);
  });

  it('refuse to sign with a key of another type or an impossible head', () => {
    expect(() => signTreeHead(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, head)).toThrow(/Ed25519/);
    expect(() => signTreeHead(key.privateKey, { ...head, size: -1 })).toThrow(RangeError);
    expect(() => signTreeHead(key.privateKey, { ...head, size: 2 ** 53 })).toThrow(RangeError);
    expect(() => signTreeHead(key.privateKey, { ...head, tenant: '' })).toThrow(TypeError);
  });
});

describe('inclusion proof documents', () => {
  it('verify for every entry of a signed tree, including the platform chain', () => {
    for (const size of [1, 2, 7, 32, 50]) {
      for (let seq = 0; seq < size; seq++) expect(checkProofDocument(inclusionDocument(seq, size), keys), `seq ${seq} size ${size}`).toEqual({ valid: true });
    }
    const platform = '00000000-0000-0000-0000-000000000000';
    const doc = { ...inclusionDocument(3, 7), tenant: platform, checkpoint: checkpoint(7, { tenant: platform }) };
    expect(checkProofDocument(doc, keys)).toEqual({ valid: true });
  });

  it('survive a JSON round trip, as the CLI reads them from a file', () => {
    expect(checkProofDocument(JSON.parse(JSON.stringify(inclusionDocument(12, 37))), keys)).toEqual({ valid: true });
  });

  it('are malformed when they are not proof documents or contradict themselves', () => {
    const doc = inclusionDocument(5, 20);
    expectFailure(null, 'malformed', /type must be/);
    expectFailure('{"type":"inclusion"}', 'malformed', /type must be/);
    expectFailure({ ...doc, type: 'exclusion' }, 'malformed', /type must be/);
    expectFailure({ ...doc, extra: true }, 'malformed', /\/extra: is not a field/);
    expectFailure({ ...doc, entry_hash: undefined }, 'malformed', /entry_hash/);
    expectFailure({ ...doc, entry_hash: doc.entry_hash.toUpperCase() }, 'malformed', /\/entry_hash: must match pattern/);
    expectFailure({ ...doc, proof: [...doc.proof, 'abc'] }, 'malformed', /\/proof\/\d+/);
    expectFailure({ ...doc, proof: Array.from({ length: 65 }, () => doc.proof[0]) }, 'malformed', /\/proof/);
    expectFailure({ ...doc, seq: '5' }, 'malformed', /\/seq/);
    expectFailure({ ...doc, seq: 2 ** 53 }, 'malformed', /\/seq/);
    expectFailure({ ...doc, tenant: 'not-an-org' }, 'malformed', /\/tenant/);
    expectFailure({ ...doc, checkpoint: { ...doc.checkpoint, key_id: '\u001b[2Jkey' } }, 'malformed', /\/checkpoint\/key_id/);
    expectFailure({ ...doc, size: 21 }, 'malformed', /size 21 differs from the checkpoint's size 20/);
    expectFailure({ ...doc, seq: 20 }, 'malformed', /seq 20 is not below the size 20/);
    expectFailure({ ...doc, checkpoint: { ...doc.checkpoint, signature: `${doc.checkpoint.signature}=` } }, 'malformed', /\/checkpoint\/signature/);
    expectFailure({ ...doc, checkpoint: { ...doc.checkpoint, time: '2026-11-30T10:00:00Z' } }, 'malformed', /\/checkpoint\/time/);
    expectFailure({ ...doc, checkpoint: { ...doc.checkpoint, time: '2026-02-30T10:00:00.000Z' } }, 'malformed', /not a real instant/);
  });

  it('name an unknown key when no published Ed25519 key has the key_id', () => {
    const doc = inclusionDocument(5, 20);
    expectFailure(doc, 'unknown_key', new RegExp(key.kid), []);
    expectFailure(doc, 'unknown_key', undefined, [otherKey.publicJwk]);
    expectFailure({ ...doc, checkpoint: { ...doc.checkpoint, key_id: randomUUID() } }, 'unknown_key');
    const rsaWithSameKid = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: key.kid };
    expectFailure(doc, 'unknown_key', undefined, [rsaWithSameKid]);
    // A key file is read from disk: junk in its list is skipped, not a crash.
    const junk = [null, 'key', 42, { kid: key.kid }] as unknown as JsonWebKey[];
    expectFailure(doc, 'unknown_key', undefined, junk);
    expect(checkProofDocument(doc, [...junk, key.publicJwk])).toEqual({ valid: true });
  });

  it('have a bad signature when the checkpoint was changed or signed by another key', () => {
    const doc = inclusionDocument(5, 20);
    const signed = doc.checkpoint;
    expectFailure({ ...doc, checkpoint: { ...signed, root: tree.roots[21]!.toString('hex') } }, 'bad_signature', /checkpoint's signature does not verify/);
    expectFailure({ ...doc, checkpoint: { ...signed, time: '2026-11-30T10:00:00.001Z' } }, 'bad_signature');
    expectFailure({ ...doc, size: 21, checkpoint: { ...signed, size: 21 } }, 'bad_signature');
    expectFailure({ ...doc, tenant: randomUUID() }, 'bad_signature');
    // Signed by a published key, but labelled as another: the labelled key does not verify it.
    expectFailure({ ...doc, checkpoint: { ...checkpoint(20, { signer: otherKey }), key_id: key.kid } }, 'bad_signature');
    const forged = signingKey();
    expectFailure({ ...doc, checkpoint: { ...checkpoint(20, { signer: forged }), key_id: key.kid } }, 'bad_signature');
    expectFailure({ ...doc, checkpoint: { ...signed, signature: Buffer.alloc(64).toString('base64url') } }, 'bad_signature');
  });

  it('do not match when the proof does not show this entry in the signed tree', () => {
    const doc = inclusionDocument(5, 20);
    const mismatch = /does not show entry/;
    expectFailure({ ...doc, entry_hash: entryHash(6).toString('hex') }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, entry_hash: leafHash(entryHash(5)).toString('hex') }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, seq: 4 }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, proof: [flipHex(doc.proof[0]!), ...doc.proof.slice(1)] }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, proof: doc.proof.slice(0, -1) }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, proof: [...doc.proof, doc.checkpoint.root] }, 'proof_mismatch', mismatch);
    // A genuine, validly signed checkpoint of another tree of the same size (a fork).
    const fork = auditTree(20, 'fork');
    expectFailure({ ...doc, checkpoint: checkpoint(20, { root: fork.roots[20]! }) }, 'proof_mismatch', mismatch);
  });
});

describe('consistency proof documents', () => {
  it('verify between every pair of signed sizes', () => {
    for (const to of [1, 8, 13, 50]) {
      for (let from = 0; from <= to; from++) expect(checkProofDocument(consistencyDocument(from, to), keys), `${from} -> ${to}`).toEqual({ valid: true });
    }
  });

  it('verify when the two checkpoints were signed by different published keys (a rotation)', () => {
    const doc = consistencyDocument(9, 31);
    expect(checkProofDocument({ ...doc, from: checkpoint(9, { signer: otherKey }) }, keys)).toEqual({ valid: true });
  });

  it('are malformed when the log would have shrunk', () => {
    const doc = consistencyDocument(9, 31);
    expectFailure({ ...doc, from: doc.to, to: doc.from }, 'malformed', /never shrinks/);
    expectFailure({ ...doc, from: { ...doc.from, extra: 1 } }, 'malformed', /\/from\/extra/);
  });

  it('name the checkpoint whose key is unknown or whose signature is bad', () => {
    const doc = consistencyDocument(9, 31);
    expectFailure({ ...doc, to: { ...doc.to, key_id: 'retired-long-ago' } }, 'unknown_key', /to's key_id retired-long-ago/);
    expectFailure({ ...doc, from: { ...doc.from, root: tree.roots[10]!.toString('hex') } }, 'bad_signature', /from's signature/);
    expectFailure({ ...doc, to: { ...doc.to, root: tree.roots[30]!.toString('hex') } }, 'bad_signature', /to's signature/);
  });

  it('do not match when the newer signed tree does not extend the older one', () => {
    const doc = consistencyDocument(9, 31);
    const mismatch = /does not show the signed tree of 31 entries extending the signed tree of 9/;
    expectFailure({ ...doc, proof: doc.proof.map(flipHex) }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, proof: doc.proof.slice(1) }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, proof: [] }, 'proof_mismatch', mismatch);
    // The log was rewritten after size 9 was signed: both heads are genuine, but one is not a prefix of the other.
    const rewritten = auditTree(31, 'rewritten');
    expectFailure({ ...doc, to: checkpoint(31, { root: rewritten.roots[31]! }) }, 'proof_mismatch', mismatch);
    expectFailure({ ...doc, to: checkpoint(31, { root: rewritten.roots[31]! }), proof: buildConsistencyProof(9, 31, rewritten.node).map((hash) => hash.toString('hex')) }, 'proof_mismatch');
    // Equal sizes need equal roots.
    expectFailure({ ...consistencyDocument(9, 9), to: checkpoint(9, { root: rewritten.roots[9]! }) }, 'proof_mismatch');
  });
});
