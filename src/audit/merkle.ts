import { hash } from 'node:crypto';

/**
 * The Merkle tree over an audit chain, exactly as RFC 9162 section 2.1 defines it, so that any
 * RFC 6962/9162 verifier (Certificate Transparency's among them) checks our proofs and a tenant
 * need not trust code of ours to do it.
 *
 * Vocabulary used throughout:
 * - a *leaf* is a leaf hash, `leafHash(entry hash)`, i.e. the tree node at level 0 — never the
 *   entry hash itself;
 * - a *perfect node* ({@link NodeRef}) is the root of an aligned subtree of 2^level leaves.
 *   Every other node (the right edge of a tree whose size is not a power of two) is recomputed
 *   from perfect nodes, so storage only ever keeps perfect nodes and each is written once, by
 *   the append that completes it (see {@link appendLeaf}).
 *
 * Sizes and indexes are plain numbers: below 2^53 a double represents every integer exactly, and
 * the code halves and multiplies instead of using `>>`/`&`, which truncate to 32 bits.
 */

/** Bytes in a SHA-256 digest, which is what every node of the tree is. */
export const HASH_BYTES = 32;
/** The largest tree these functions accept: past 2^53 a number no longer holds every index exactly. */
export const MAX_TREE_SIZE = 2 ** 53;

// RFC 9162 2.1.1's domain separation: a leaf can never be passed off as an interior node or back.
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
// Every digest of an append or a verification hashes 33 or 65 bytes. Writing them into one buffer
// of each size, instead of allocating a concatenation per digest, cuts the CPU of appendLeaf by
// about a quarter (bench/audit-proofs.bench.ts). Safe because hash() is synchronous and returns a
// new buffer: nothing can run between filling an input and hashing it, and no caller sees it.
const leafInput = Buffer.alloc(1 + HASH_BYTES, LEAF_PREFIX);
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES);
nodeInput[0] = NODE_PREFIX;

/** RFC 9162's leaf hash: SHA-256(0x00 || data). For the audit log, `data` is the entry hash. */
export function leafHash(entryHash: Buffer): Buffer {
  // Data of another length (the RFC's test vectors) takes the general path.
  if (entryHash.length !== HASH_BYTES) return hash('sha256', Buffer.concat([Buffer.from([LEAF_PREFIX]), entryHash]), 'buffer');
  leafInput.set(entryHash, 1);
  return hash('sha256', leafInput, 'buffer');
}

/** RFC 9162's interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  // A node is always a digest; anything else means a caller mixed up hex and bytes or lost a node.
  assertHash(left, 'left node');
  assertHash(right, 'right node');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeInput, 'buffer');
}

/** The root of the empty tree: SHA-256 of the empty string (RFC 9162 2.1.1). */
export function emptyRoot(): Buffer {
  return hash('sha256', Buffer.alloc(0), 'buffer');
}

/**
 * MTH straight from RFC 9162 2.1.1's recursive definition, over leaf hashes. It reads every
 * leaf, so it serves tests and small trees; a chain's root comes from its frontier.
 */
export function rootOfLeaves(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return emptyRoot();
  const mth = (start: number, end: number): Buffer => {
    if (end - start === 1) return leaves[start]!;
    const split = start + largestPowerOfTwoBelow(end - start);
    return nodeHash(mth(start, split), mth(split, end));
  };
  return mth(0, leaves.length);
}

/**
 * Appends one leaf to a tree known only by its frontier: the roots of the perfect subtrees of
 * the binary decomposition of `size`, largest (leftmost) first — at most 53 hashes, whatever the
 * size, which is all a chain head needs to keep.
 *
 * `completed[i]` is the perfect node of level i+1 whose last leaf is the new one: node
 * `{ level: i + 1, index: size / 2^(i+1) rounded down }`. Each perfect node is completed by exactly
 * one append, so storing `completed` with the entry stores every node once (see
 * {@link lastLeafIndex}).
 */
export function appendLeaf(frontier: Buffer[], size: number, leaf: Buffer): { frontier: Buffer[]; completed: Buffer[] } {
  assertTreeSize(size, 'size');
  if (size === MAX_TREE_SIZE) throw new RangeError(`the tree is full at ${MAX_TREE_SIZE} leaves`);
  assertHash(leaf, 'leaf');
  if (frontier.length !== countOnes(size)) {
    throw new RangeError(`a tree of size ${size} has a frontier of ${countOnes(size)} nodes, got ${frontier.length}`);
  }
  const next = frontier.slice();
  const completed: Buffer[] = [];
  let node = leaf;
  // Each trailing 1 bit of `size` is a perfect subtree of the same height as `node`: merge them.
  for (let rest = size; rest % 2 === 1; rest = (rest - 1) / 2) {
    node = nodeHash(next.pop()!, node);
    completed.push(node);
  }
  next.push(node);
  return { frontier: next, completed };
}

/** The tree's root from its frontier: the frontier's subtrees hashed together right to left (RFC 9162's MTH). */
export function rootOfFrontier(frontier: Buffer[]): Buffer {
  if (frontier.length === 0) return emptyRoot();
  let root = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i]!, root);
  return root;
}

/** A perfect node: the root of the subtree over leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeRef {
  level: number;
  index: number;
}

/**
 * Index of the last leaf under `ref`: the audit entry (seq) whose append completed it and so
 * stores it (level 0: the entry's leaf hash; level L >= 1: the entry's tree_nodes[L-1]).
 */
export function lastLeafIndex(ref: NodeRef): number {
  return (ref.index + 1) * 2 ** ref.level - 1;
}

/** A stable map key for a node, so a storage layer and its callers agree on one spelling. */
export function nodeRefKey(ref: NodeRef): string {
  return `${ref.level}:${ref.index}`;
}

/**
 * The perfect nodes whose roots form the frontier of a tree of `size` leaves. With
 * {@link rootOfFrontier} it gives the root of any past size from stored nodes (a checkpoint
 * for an older size, the frontier at an archived boundary).
 */
export function frontierPlan(size: number): NodeRef[] {
  assertTreeSize(size, 'size');
  return perfectNodesOf({ start: 0, end: size });
}

/** Every perfect node the inclusion proof of leaf `leafIndex` in a tree of `treeSize` leaves is built from. */
export function inclusionProofPlan(leafIndex: number, treeSize: number): NodeRef[] {
  return inclusionRanges(leafIndex, treeSize).flatMap(perfectNodesOf);
}

/**
 * RFC 9162 2.1.3.1's inclusion proof (PATH), leaf side first. `nodes` must answer every ref of
 * {@link inclusionProofPlan} and is asked for nothing else, so a storage layer fetches the plan
 * in one query and answers from memory.
 */
export function buildInclusionProof(leafIndex: number, treeSize: number, nodes: (ref: NodeRef) => Buffer): Buffer[] {
  return inclusionRanges(leafIndex, treeSize).map((range) => rootOfRange(range, nodes));
}

/** Every perfect node the consistency proof from size `size1` to size `size2` is built from. */
export function consistencyProofPlan(size1: number, size2: number): NodeRef[] {
  return consistencyRanges(size1, size2).flatMap(perfectNodesOf);
}

/**
 * RFC 9162 2.1.4.1's consistency proof (PROOF) that the tree of `size2` leaves extends the tree
 * of `size1` leaves. Empty when there is nothing to prove (`size1` is 0 or equals `size2`).
 * `nodes` is asked exactly for the refs of {@link consistencyProofPlan}.
 */
export function buildConsistencyProof(size1: number, size2: number, nodes: (ref: NodeRef) => Buffer): Buffer[] {
  return consistencyRanges(size1, size2).map((range) => rootOfRange(range, nodes));
}

/**
 * RFC 9162 2.1.3.2: true when `proof` shows that `leaf` (a leaf hash) is leaf `leafIndex` of the
 * tree of `treeSize` leaves whose root is `root`. Never throws: bad input is simply not a proof.
 */
export function verifyInclusion(leafIndex: number, treeSize: number, leaf: Buffer, proof: Buffer[], root: Buffer): boolean {
  if (!isTreeSize(treeSize) || !isTreeSize(leafIndex) || leafIndex >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  const walk = { fn: leafIndex, sn: treeSize - 1 };
  let r = leaf;
  for (const p of proof) {
    if (walk.sn === 0) return false;
    if (walk.fn % 2 === 1 || walk.fn === walk.sn) {
      r = nodeHash(p, r);
      shiftWhileEven(walk);
    } else {
      r = nodeHash(r, p);
    }
    shift(walk);
  }
  return walk.sn === 0 && r.equals(root);
}

/**
 * RFC 9162 2.1.4.2: true when `proof` shows that the tree of `size2` leaves with root `root2`
 * contains the tree of `size1` leaves with root `root1` as its prefix, i.e. the log was only
 * appended to. The RFC leaves equal sizes and size 0 to the caller: equal sizes need equal roots
 * and an empty proof; size 0 needs the empty tree's root and an empty proof.
 */
export function verifyConsistency(size1: number, size2: number, proof: Buffer[], root1: Buffer, root2: Buffer): boolean {
  if (!isTreeSize(size1) || !isTreeSize(size2) || size1 > size2) return false;
  if (!isHash(root1) || !isHash(root2) || !proof.every(isHash)) return false;
  if (size1 === 0) return proof.length === 0 && root1.equals(emptyRoot()) && (size2 > 0 || root2.equals(root1));
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (proof.length === 0) return false;
  // The old root is itself a node of the new tree when size1 is a power of two; the proof omits it.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  const walk = { fn: size1 - 1, sn: size2 - 1 };
  while (walk.fn % 2 === 1) shift(walk);
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (walk.sn === 0) return false;
    if (walk.fn % 2 === 1 || walk.fn === walk.sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      shiftWhileEven(walk);
    } else {
      sr = nodeHash(sr, c);
    }
    shift(walk);
  }
  return walk.sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/** Leaves [start, end) of the tree: a subtree of the RFC's recursion, perfect or not. */
interface LeafRange {
  start: number;
  end: number;
}

/** The subtrees whose roots PATH(leafIndex, D[treeSize]) lists, in proof order (leaf side first). */
function inclusionRanges(leafIndex: number, treeSize: number): LeafRange[] {
  assertTreeSize(treeSize, 'tree size');
  assertTreeSize(leafIndex, 'leaf index');
  if (leafIndex >= treeSize) throw new RangeError(`leaf index ${leafIndex} is not below the tree size ${treeSize}`);
  // RFC 9162 2.1.3.1 unrolled from the root down: at each split the proof gains the other side.
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = treeSize;
  while (end - start > 1) {
    const split = start + largestPowerOfTwoBelow(end - start);
    if (leafIndex < split) {
      ranges.push({ start: split, end });
      end = split;
    } else {
      ranges.push({ start, end: split });
      start = split;
    }
  }
  return ranges.reverse();
}

/** The subtrees whose roots PROOF(size1, D[size2]) lists, in proof order. */
function consistencyRanges(size1: number, size2: number): LeafRange[] {
  assertTreeSize(size1, 'size1');
  assertTreeSize(size2, 'size2');
  if (size1 > size2) throw new RangeError(`size1 ${size1} is above size2 ${size2}: a log never shrinks`);
  if (size1 === 0 || size1 === size2) return [];
  // RFC 9162 2.1.4.1's SUBPROOF unrolled from the root down. `knownRoot` is its flag b: whether the
  // subtree reached is the whole old tree, whose root the verifier already has.
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = size2;
  let knownRoot = true;
  while (end !== size1) {
    const split = start + largestPowerOfTwoBelow(end - start);
    if (size1 <= split) {
      ranges.push({ start: split, end });
      end = split;
    } else {
      ranges.push({ start, end: split });
      start = split;
      knownRoot = false;
    }
  }
  if (!knownRoot) ranges.push({ start, end });
  return ranges.reverse();
}

/**
 * The perfect nodes that make up a range, largest first. Every range the RFC's recursion reaches
 * starts at a multiple of a power of two at least its length, so its binary decomposition,
 * laid left to right, is made of aligned perfect subtrees.
 */
function perfectNodesOf(range: LeafRange): NodeRef[] {
  const refs: NodeRef[] = [];
  let remaining = range.end - range.start;
  let position = range.start;
  let width = 1;
  let level = 0;
  while (width * 2 <= remaining) {
    width *= 2;
    level++;
  }
  for (; remaining > 0; width /= 2, level--) {
    if (width > remaining) continue;
    refs.push({ level, index: position / width });
    position += width;
    remaining -= width;
  }
  return refs;
}

/** MTH of a range from its perfect nodes, asking `nodes` for each once. */
function rootOfRange(range: LeafRange, nodes: (ref: NodeRef) => Buffer): Buffer {
  return rootOfFrontier(
    perfectNodesOf(range).map((ref) => {
      const node = nodes(ref);
      if (!isHash(node)) throw new Error(`Merkle node level ${ref.level} index ${ref.index} is missing or not a SHA-256 hash`);
      return node;
    }),
  );
}

/** RFC 9162's k: the largest power of two strictly below n (n >= 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function countOnes(n: number): number {
  let ones = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) ones += rest % 2;
  return ones;
}

/** The RFC's "right-shift fn and sn", on numbers past 2^31. */
function shift(walk: { fn: number; sn: number }): void {
  walk.fn = Math.floor(walk.fn / 2);
  walk.sn = Math.floor(walk.sn / 2);
}

/** The RFC's "right-shift both until LSB(fn) is set or fn is 0". */
function shiftWhileEven(walk: { fn: number; sn: number }): void {
  while (walk.fn % 2 === 0 && walk.fn !== 0) shift(walk);
}

function isTreeSize(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_TREE_SIZE;
}

function isHash(value: unknown): value is Buffer {
  return Buffer.isBuffer(value) && value.length === HASH_BYTES;
}

function assertTreeSize(n: number, name: string): void {
  if (!isTreeSize(n)) throw new RangeError(`${name} must be an integer from 0 to 2^53, got ${n}`);
}

function assertHash(value: Buffer, name: string): void {
  if (!isHash(value)) throw new RangeError(`${name} must be a ${HASH_BYTES}-byte SHA-256 hash`);
}
