import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendLeaf,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofPlan,
  emptyRoot,
  frontierPlan,
  inclusionProofPlan,
  lastLeafIndex,
  leafHash,
  MAX_TREE_SIZE,
  nodeHash,
  nodeRefKey,
  rootOfFrontier,
  rootOfLeaves,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle.js';
import type { NodeRef } from '../../src/audit/merkle.js';

/*
 * The module is checked against a naive implementation written here straight from RFC 9162
 * 2.1's definitions (MTH, PATH, PROOF/SUBPROOF over the leaf data, recursing on slices), and
 * against the published RFC 6962 test vectors, which other implementations check too.
 */

const sha256 = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const hex = (buffer: Buffer): string => buffer.toString('hex');
const unhex = (text: string): Buffer => Buffer.from(text, 'hex');

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Reference MTH, PATH and SUBPROOF over D[start:end] of one data array. MTH is memoized per
// subtree only to keep the all-sizes tests fast; the recursion is the RFC's.
const mthMemo = new WeakMap<Buffer[], Map<string, Buffer>>();

function refMth(data: Buffer[], start = 0, end = data.length): Buffer {
  const memo = mthMemo.get(data) ?? new Map<string, Buffer>();
  mthMemo.set(data, memo);
  const key = `${start}:${end}`;
  let result = memo.get(key);
  if (!result) {
    const n = end - start;
    if (n === 0) result = sha256();
    else if (n === 1) result = sha256(Buffer.from([0]), data[start]!);
    else {
      const k = largestPowerOfTwoBelow(n);
      result = sha256(Buffer.from([1]), refMth(data, start, start + k), refMth(data, start + k, end));
    }
    memo.set(key, result);
  }
  return result;
}

function refPath(m: number, data: Buffer[], start = 0, end = data.length): Buffer[] {
  const n = end - start;
  if (n <= 1) return [];
  const k = largestPowerOfTwoBelow(n);
  return m < k
    ? [...refPath(m, data, start, start + k), refMth(data, start + k, end)]
    : [...refPath(m - k, data, start + k, end), refMth(data, start, start + k)];
}

function refSubproof(m: number, data: Buffer[], b: boolean, start = 0, end = data.length): Buffer[] {
  const n = end - start;
  if (m === n) return b ? [] : [refMth(data, start, end)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...refSubproof(m, data, b, start, start + k), refMth(data, start + k, end)]
    : [...refSubproof(m - k, data, false, start + k, end), refMth(data, start, start + k)];
}

const refProof = (m: number, data: Buffer[], n: number): Buffer[] => refSubproof(m, data, true, 0, n);

/** Distinct leaf data: entry hashes, as the audit log feeds them. */
const entryHashes = (count: number, salt = 'entry'): Buffer[] => Array.from({ length: count }, (_, i) => sha256(Buffer.from(`${salt}:${i}`)));

/**
 * A tree as the audit log stores it: each append's `completed` nodes kept with its entry, the
 * leaf hash derived from the entry. `nodes` answers from that store and records what it was asked.
 */
function storedTree(data: Buffer[]) {
  const store = new Map<string, Buffer>();
  let frontier: Buffer[] = [];
  const frontierRoots: Buffer[] = [emptyRoot()];
  data.forEach((entryHash, seq) => {
    const leaf = leafHash(entryHash);
    store.set(nodeRefKey({ level: 0, index: seq }), leaf);
    const appended = appendLeaf(frontier, seq, leaf);
    appended.completed.forEach((node, i) => {
      const ref = { level: i + 1, index: Math.floor(seq / 2 ** (i + 1)) };
      expect(lastLeafIndex(ref)).toBe(seq);
      store.set(nodeRefKey(ref), node);
    });
    frontier = appended.frontier;
    frontierRoots.push(rootOfFrontier(frontier));
  });
  const asked: NodeRef[] = [];
  const nodes = (ref: NodeRef): Buffer => {
    asked.push(ref);
    const node = store.get(nodeRefKey(ref));
    if (!node) throw new Error(`node ${nodeRefKey(ref)} was never stored`);
    return node;
  };
  return { store, frontierRoots, nodes, asked };
}

/**
 * What is wrong with a plan, if anything: it must list each perfect node once, each inside the
 * tree, and build must have asked for exactly those. Returned rather than asserted so the loops
 * over thousands of proofs assert once and report every failure together.
 */
function planProblems(plan: NodeRef[], asked: NodeRef[], treeSize: number): string[] {
  const planKeys = plan.map(nodeRefKey);
  const problems: string[] = [];
  if (new Set(planKeys).size !== planKeys.length) problems.push(`plan repeats a node: ${planKeys.join(' ')}`);
  const askedKeys = asked.map(nodeRefKey).sort().join(' ');
  if (askedKeys !== [...planKeys].sort().join(' ')) problems.push(`build asked for ${askedKeys}, plan lists ${planKeys.join(' ')}`);
  for (const ref of plan) {
    if (!Number.isSafeInteger(ref.index) || ref.index < 0 || ref.level < 0 || lastLeafIndex(ref) >= treeSize) {
      problems.push(`${nodeRefKey(ref)} is not a perfect node of a ${treeSize}-leaf tree`);
    }
  }
  return problems;
}

describe('RFC 6962 test vectors', () => {
  const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
  const leaves = data.map(leafHash);
  const roots = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  const inclusion = [
    { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
    { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
    { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
    { index: 1, size: 5, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  ];
  const consistency = [
    { size1: 1, size2: 1, proof: [] },
    { size1: 1, size2: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
    { size1: 6, size2: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
    { size1: 2, size2: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  ];

  it('gives the published root for every size 0..8, from the leaves and from the frontier', () => {
    const { frontierRoots } = storedTree(data);
    for (let size = 0; size <= 8; size++) {
      expect(hex(rootOfLeaves(leaves.slice(0, size))), `size ${size}`).toBe(roots[size]);
      expect(hex(frontierRoots[size]!), `size ${size}`).toBe(roots[size]);
    }
    expect(hex(emptyRoot())).toBe(roots[0]);
  });

  it('builds and verifies the published inclusion proofs', () => {
    const { nodes } = storedTree(data);
    for (const vector of inclusion) {
      const proof = buildInclusionProof(vector.index, vector.size, nodes);
      expect(proof.map(hex)).toEqual(vector.proof);
      expect(verifyInclusion(vector.index, vector.size, leaves[vector.index]!, vector.proof.map(unhex), unhex(roots[vector.size]!))).toBe(true);
    }
  });

  it('builds and verifies the published consistency proofs', () => {
    const { nodes } = storedTree(data);
    for (const vector of consistency) {
      const proof = buildConsistencyProof(vector.size1, vector.size2, nodes);
      expect(proof.map(hex)).toEqual(vector.proof);
      expect(verifyConsistency(vector.size1, vector.size2, vector.proof.map(unhex), unhex(roots[vector.size1]!), unhex(roots[vector.size2]!))).toBe(true);
    }
  });
});

describe('tree building', () => {
  const data = entryHashes(130);
  const leaves = data.map(leafHash);

  it('hashes leaves and nodes with RFC 9162 domain separation', () => {
    expect(leafHash(data[0]!)).toEqual(sha256(Buffer.from([0]), data[0]!));
    expect(nodeHash(leaves[0]!, leaves[1]!)).toEqual(sha256(Buffer.from([1]), leaves[0]!, leaves[1]!));
    expect(() => nodeHash(Buffer.alloc(31), leaves[1]!)).toThrow(RangeError);
  });

  it('gives the same root from the frontier as MTH over all leaves, for every size', () => {
    const { frontierRoots } = storedTree(data);
    for (let size = 0; size <= data.length; size++) {
      const expected = hex(refMth(data, 0, size));
      expect(hex(rootOfLeaves(leaves.slice(0, size))), `size ${size}`).toBe(expected);
      expect(hex(frontierRoots[size]!), `size ${size}`).toBe(expected);
    }
  });

  it('stores each perfect node with the entry that completes it, as MTH of its leaves', () => {
    const { store } = storedTree(data);
    for (const [key, node] of store) {
      const [level, index] = key.split(':').map(Number) as [number, number];
      const width = 2 ** level;
      expect(hex(node), key).toBe(hex(refMth(data, index * width, (index + 1) * width)));
    }
    // Every perfect node of the 130-leaf tree, and nothing else: 130 + 65 + 32 + 16 + 8 + 4 + 2 + 1.
    expect(store.size).toBe(258);
  });

  it('recomputes the root of every past size from stored nodes', () => {
    const { nodes, frontierRoots } = storedTree(data);
    for (let size = 0; size <= data.length; size++) {
      expect(hex(rootOfFrontier(frontierPlan(size).map(nodes))), `size ${size}`).toBe(hex(frontierRoots[size]!));
    }
  });

  it('refuses a frontier that does not belong to the size', () => {
    expect(() => appendLeaf([], 1, leaves[0]!)).toThrow(/frontier of 1 nodes/);
    expect(() => appendLeaf([leaves[0]!, leaves[1]!], 2, leaves[2]!)).toThrow(RangeError);
    expect(() => appendLeaf([], -1, leaves[0]!)).toThrow(RangeError);
    expect(() => appendLeaf([], 0, Buffer.from('not a hash'))).toThrow(RangeError);
  });
});

describe('inclusion proofs', () => {
  const data = entryHashes(64);
  const tree = storedTree(data);

  it('match PATH from the RFC and verify, for every leaf of every size up to 64', () => {
    const problems: string[] = [];
    for (let size = 1; size <= data.length; size++) {
      const root = refMth(data, 0, size);
      for (let index = 0; index < size; index++) {
        const where = `index ${index} size ${size}`;
        tree.asked.length = 0;
        const proof = buildInclusionProof(index, size, tree.nodes);
        if (proof.map(hex).join() !== refPath(index, data, 0, size).map(hex).join()) problems.push(`${where}: not PATH`);
        problems.push(...planProblems(inclusionProofPlan(index, size), tree.asked, size).map((problem) => `${where}: ${problem}`));
        if (!verifyInclusion(index, size, leafHash(data[index]!), proof, root)) problems.push(`${where}: does not verify`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('match PATH from the RFC for random leaves of larger trees', () => {
    const bigData = entryHashes(3000, 'big');
    const big = storedTree(bigData);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 }))), ([size, index]) => {
        big.asked.length = 0;
        const proof = buildInclusionProof(index, size, big.nodes);
        expect(proof.map(hex)).toEqual(refPath(index, bigData, 0, size).map(hex));
        expect(planProblems(inclusionProofPlan(index, size), big.asked, size)).toEqual([]);
        expect(verifyInclusion(index, size, leafHash(bigData[index]!), proof, refMth(bigData, 0, size))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('are rejected when anything about them changes', () => {
    const someHash = sha256(Buffer.from('some other hash'));
    const accepted: string[] = [];
    for (let size = 1; size <= 33; size++) {
      const root = tree.frontierRoots[size]!;
      for (let index = 0; index < size; index++) {
        const leaf = leafHash(data[index]!);
        const proof = buildInclusionProof(index, size, tree.nodes);
        const rejects = (description: string, i: number, n: number, l: Buffer, p: Buffer[], r: Buffer) => {
          if (verifyInclusion(i, n, l, p, r)) accepted.push(`${description}: index ${index} size ${size}`);
        };

        rejects('changed leaf', index, size, leafHash(someHash), proof, root);
        rejects('entry hash instead of leaf hash', index, size, data[index]!, proof, root);
        rejects('wrong root', index, size, leaf, proof, someHash);
        rejects('empty root', index, size, leaf, proof, emptyRoot());
        for (const wrongIndex of [index - 1, index + 1, index ^ 2]) {
          if (wrongIndex !== index) rejects(`index ${wrongIndex}`, wrongIndex, size, leaf, proof, root);
        }
        // A size travels with its root in a signed tree head: another size is tried with that
        // size's own root, and (as Certificate Transparency's tests do) with this root.
        for (const wrongSize of [size - 1, size + 1, size * 2, Math.floor(size / 2)]) {
          if (wrongSize === size || wrongSize > data.length) continue;
          rejects(`size ${wrongSize} and its root`, index, wrongSize, leaf, proof, tree.frontierRoots[wrongSize]!);
          if (wrongSize === size * 2 || wrongSize === Math.floor(size / 2)) rejects(`size ${wrongSize}`, index, wrongSize, leaf, proof, root);
        }
        rejects('element added at the end', index, size, leaf, [...proof, someHash], root);
        rejects('root added at the end', index, size, leaf, [...proof, root], root);
        rejects('element added at the front', index, size, leaf, [someHash, ...proof], root);
        rejects('element not a hash', index, size, leaf, [...proof.slice(0, -1), Buffer.alloc(0)], root);
        if (proof.length > 0) rejects('last element removed', index, size, leaf, proof.slice(0, -1), root);
        if (proof.length > 1) {
          rejects('first element removed', index, size, leaf, proof.slice(1), root);
          rejects('element inserted', index, size, leaf, [proof[0]!, someHash, ...proof.slice(1)], root);
        }
        proof.forEach((_, i) => {
          const changed = proof.map((element) => Buffer.from(element));
          changed[i]![0]! ^= 8;
          rejects(`element ${i} changed`, index, size, leaf, changed, root);
        });
      }
    }
    expect(accepted).toEqual([]);
  });

  it('are refused for leaves outside the tree', () => {
    expect(() => inclusionProofPlan(0, 0)).toThrow(RangeError);
    expect(() => inclusionProofPlan(5, 5)).toThrow(RangeError);
    expect(() => inclusionProofPlan(-1, 5)).toThrow(RangeError);
    expect(() => inclusionProofPlan(0.5, 5)).toThrow(RangeError);
    expect(() => inclusionProofPlan(0, MAX_TREE_SIZE * 2)).toThrow(RangeError);
    expect(verifyInclusion(0, 0, leafHash(data[0]!), [], emptyRoot())).toBe(false);
    expect(verifyInclusion(Number.NaN, 1, leafHash(data[0]!), [], leafHash(data[0]!))).toBe(false);
  });

  it('fail to build when storage lacks a node instead of building a wrong proof', () => {
    expect(() => buildInclusionProof(3, 8, () => Buffer.alloc(0))).toThrow(/level 0 index 2 is missing/);
  });
});

describe('consistency proofs', () => {
  const data = entryHashes(64);
  const tree = storedTree(data);

  it('match PROOF from the RFC and verify, for every pair of sizes up to 64', () => {
    const problems: string[] = [];
    for (let size2 = 0; size2 <= data.length; size2++) {
      for (let size1 = 0; size1 <= size2; size1++) {
        const where = `${size1} -> ${size2}`;
        tree.asked.length = 0;
        const proof = buildConsistencyProof(size1, size2, tree.nodes);
        const expected = size1 === 0 || size1 === size2 ? [] : refProof(size1, data, size2);
        if (proof.map(hex).join() !== expected.map(hex).join()) problems.push(`${where}: not PROOF`);
        problems.push(...planProblems(consistencyProofPlan(size1, size2), tree.asked, size2).map((problem) => `${where}: ${problem}`));
        if (!verifyConsistency(size1, size2, proof, tree.frontierRoots[size1]!, tree.frontierRoots[size2]!)) problems.push(`${where}: does not verify`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('match PROOF from the RFC for random sizes of larger trees', () => {
    const bigData = entryHashes(3000, 'big');
    const big = storedTree(bigData);
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3000 }).chain((size2) => fc.tuple(fc.integer({ min: 1, max: size2 - 1 }), fc.constant(size2))), ([size1, size2]) => {
        big.asked.length = 0;
        const proof = buildConsistencyProof(size1, size2, big.nodes);
        expect(proof.map(hex)).toEqual(refProof(size1, bigData, size2).map(hex));
        expect(planProblems(consistencyProofPlan(size1, size2), big.asked, size2)).toEqual([]);
        expect(verifyConsistency(size1, size2, proof, big.frontierRoots[size1]!, big.frontierRoots[size2]!)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('are rejected when anything about them changes', () => {
    const someHash = sha256(Buffer.from('some other hash'));
    const accepted: string[] = [];
    for (let size2 = 2; size2 <= 33; size2++) {
      for (let size1 = 1; size1 < size2; size1++) {
        const [root1, root2] = [tree.frontierRoots[size1]!, tree.frontierRoots[size2]!];
        const proof = buildConsistencyProof(size1, size2, tree.nodes);
        const rejects = (description: string, m: number, n: number, p: Buffer[], r1: Buffer, r2: Buffer) => {
          if (verifyConsistency(m, n, p, r1, r2)) accepted.push(`${description}: ${size1} -> ${size2}`);
        };

        rejects('swapped roots', size1, size2, proof, root2, root1);
        rejects('wrong old root', size1, size2, proof, someHash, root2);
        rejects('wrong new root', size1, size2, proof, root1, someHash);
        rejects('sizes swapped', size2, size1, proof, root1, root2);
        // As for inclusion: a wrong size with its own root, and the halved or doubled size with these roots.
        for (const wrong of [size1 - 1, size1 + 1, size1 ^ 2]) {
          if (wrong === size1 || wrong <= 0 || wrong >= size2) continue;
          rejects(`old size ${wrong} and its root`, wrong, size2, proof, tree.frontierRoots[wrong]!, root2);
          rejects(`old size ${wrong}`, wrong, size2, proof, root1, root2);
        }
        for (const wrong of [size2 - 1, size2 + 1, size2 * 2, Math.floor(size2 / 2)]) {
          if (wrong === size2 || wrong <= size1 || wrong > data.length) continue;
          rejects(`new size ${wrong} and its root`, size1, wrong, proof, root1, tree.frontierRoots[wrong]!);
          if (wrong === size2 * 2 || wrong === Math.floor(size2 / 2)) rejects(`new size ${wrong}`, size1, wrong, proof, root1, root2);
        }
        rejects('empty proof', size1, size2, [], root1, root2);
        rejects('element added at the end', size1, size2, [...proof, someHash], root1, root2);
        rejects('old root added at the end', size1, size2, [...proof, root1], root1, root2);
        rejects('new root added at the end', size1, size2, [...proof, root2], root1, root2);
        rejects('element added at the front', size1, size2, [someHash, ...proof], root1, root2);
        rejects('old root added at the front', size1, size2, [root1, ...proof], root1, root2);
        rejects('first element repeated', size1, size2, [proof[0]!, ...proof], root1, root2);
        rejects('last element removed', size1, size2, proof.slice(0, -1), root1, root2);
        if (proof.length > 1) rejects('first element removed', size1, size2, proof.slice(1), root1, root2);
        proof.forEach((_, i) => {
          const changed = proof.map((element) => Buffer.from(element));
          changed[i]![0]! ^= 16;
          rejects(`element ${i} changed`, size1, size2, changed, root1, root2);
        });
      }
    }
    expect(accepted).toEqual([]);
  });

  it('treat equal sizes and the empty tree as the RFC leaves them to the caller', () => {
    const [root3, root5] = [tree.frontierRoots[3]!, tree.frontierRoots[5]!];
    expect(verifyConsistency(3, 3, [], root3, root3)).toBe(true);
    expect(verifyConsistency(3, 3, [], root3, root5)).toBe(false);
    expect(verifyConsistency(3, 3, [root3], root3, root3)).toBe(false);
    expect(verifyConsistency(0, 5, [], emptyRoot(), root5)).toBe(true);
    expect(verifyConsistency(0, 5, [], root3, root5)).toBe(false);
    expect(verifyConsistency(0, 5, [root5], emptyRoot(), root5)).toBe(false);
    expect(verifyConsistency(0, 0, [], emptyRoot(), emptyRoot())).toBe(true);
    expect(verifyConsistency(0, 0, [], emptyRoot(), root3)).toBe(false);
    expect(() => consistencyProofPlan(5, 3)).toThrow(/never shrinks/);
    expect(consistencyProofPlan(0, 5)).toEqual([]);
    expect(consistencyProofPlan(5, 5)).toEqual([]);
  });
});

/**
 * A tree far too big to build, for sizes up to 2^53: every leaf is the same except a few, so a
 * perfect node is the plain subtree's hash of its level unless it covers a special leaf, which
 * is computed (and memoized) from its children. Roots come from the frontier plan.
 */
function sparseTree(special: Map<number, Buffer>) {
  const plain = [leafHash(Buffer.from('plain'))];
  for (let level = 1; level <= 53; level++) plain.push(nodeHash(plain[level - 1]!, plain[level - 1]!));
  const memo = new Map<string, Buffer>();
  const node = (ref: NodeRef): Buffer => {
    const first = ref.index * 2 ** ref.level;
    const last = lastLeafIndex(ref);
    if (![...special.keys()].some((i) => i >= first && i <= last)) return plain[ref.level]!;
    if (ref.level === 0) return special.get(first)!;
    const key = nodeRefKey(ref);
    if (!memo.has(key)) {
      memo.set(key, nodeHash(node({ level: ref.level - 1, index: ref.index * 2 }), node({ level: ref.level - 1, index: ref.index * 2 + 1 })));
    }
    return memo.get(key)!;
  };
  return { node, plain, root: (size: number) => rootOfFrontier(frontierPlan(size).map(node)) };
}

describe('trees up to 2^53 leaves', () => {
  const indexes = [0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 40 + 12_345, 2 ** 52 + 3, MAX_TREE_SIZE - 2, MAX_TREE_SIZE - 1];
  const special = new Map(indexes.map((i) => [i, leafHash(Buffer.from(`special ${i}`))]));
  const tree = sparseTree(special);
  const sizes = [2 ** 31 + 1, 2 ** 32 + 7, 2 ** 41, 2 ** 52 + 4, MAX_TREE_SIZE - 1, MAX_TREE_SIZE];

  it('prove and verify inclusion of leaves past 2^31', () => {
    for (const size of sizes) {
      for (const index of indexes.filter((i) => i < size)) {
        const proof = buildInclusionProof(index, size, tree.node);
        const plan = inclusionProofPlan(index, size);
        expect(plan.every((ref) => Number.isSafeInteger(ref.index) && lastLeafIndex(ref) < size)).toBe(true);
        const leaf = special.get(index)!;
        expect(verifyInclusion(index, size, leaf, proof, tree.root(size)), `index ${index} size ${size}`).toBe(true);
        const neighbour = index === size - 1 ? index - 1 : index + 1;
        expect(verifyInclusion(neighbour, size, leaf, proof, tree.root(size))).toBe(false);
      }
    }
    // The full tree: a path of exactly 53 perfect siblings, one per level.
    expect(inclusionProofPlan(MAX_TREE_SIZE - 1, MAX_TREE_SIZE).map((ref) => ref.level)).toEqual(Array.from({ length: 53 }, (_, i) => i));
  });

  it('prove and verify consistency between sizes past 2^31', () => {
    for (const size2 of sizes) {
      for (const size1 of [...sizes, ...indexes.map((i) => i + 1)].filter((s) => s < size2)) {
        const proof = buildConsistencyProof(size1, size2, tree.node);
        expect(verifyConsistency(size1, size2, proof, tree.root(size1), tree.root(size2)), `${size1} -> ${size2}`).toBe(true);
        expect(verifyConsistency(size1, size2, proof, tree.root(size1 + 1), tree.root(size2))).toBe(false);
      }
    }
  });

  it('append the last leaf of a 2^53 tree', () => {
    const size = MAX_TREE_SIZE - 1;
    const frontier = frontierPlan(size).map(tree.node);
    expect(frontier).toHaveLength(53);
    const { frontier: next, completed } = appendLeaf(frontier, size, special.get(size)!);
    expect(completed).toHaveLength(53);
    expect(next).toEqual([tree.node({ level: 53, index: 0 })]);
    expect(rootOfFrontier(next)).toEqual(tree.root(MAX_TREE_SIZE));
    expect(() => appendLeaf(next, MAX_TREE_SIZE, special.get(0)!)).toThrow(/full/);
  });
});
