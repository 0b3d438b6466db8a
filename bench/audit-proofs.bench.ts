import { hash, randomBytes } from 'node:crypto';
import {
  appendLeaf,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofPlan,
  inclusionProofPlan,
  leafHash,
  nodeRefKey,
  rootOfFrontier,
  frontierPlan,
  verifyConsistency,
  verifyInclusion,
} from '../src/audit/merkle.js';
import type { NodeRef } from '../src/audit/merkle.js';
import { envCount } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { format, printTable } from './lib/format.js';

/**
 * The pure Merkle side of the audit log (src/audit/merkle.ts), without a database:
 * - append: leafHash + appendLeaf per entry against raw SHA-256 in the same process, both of the
 *   entry hashes alone (the least any per-entry hashing costs) and of exactly the byte strings
 *   the tree hashes (so the ratio shows the bookkeeping around the digests);
 * - proof generation: plan + build with the perfect nodes in an in-memory Map, as a storage layer
 *   holds them after its one query, for trees of 1e3..1e6 entries;
 * - verification throughput of those proofs.
 * The database query that fetches a plan's nodes is the storage benchmark's to measure.
 */

const SIZES = [1_000, 10_000, 100_000, 1_000_000];

async function run(): Promise<void> {
  const leaves = envCount('BENCH_LEAVES', 1_000_000);
  const rounds = envCount('BENCH_ROUNDS', 3);
  const proofs = envCount('BENCH_PROOFS', 2_000);
  const sizes = SIZES.filter((size) => size <= leaves);
  console.log(
    [
      `tree:      ${format(leaves, 0)} random 32-byte entry hashes; ${rounds} round(s) of each append side, order alternating`,
      `proofs:    ${format(proofs, 0)} random proofs per tree size and kind; latency = plan + build, nodes from a Map keyed by nodeRefKey`,
    ].join('\n'),
  );

  const entryHashes = Array.from({ length: leaves }, () => randomBytes(32));
  const { store, treeInputs } = buildStore(entryHashes);
  measureAppend(entryHashes, treeInputs, rounds);
  // Millions of live buffers the proofs do not need would only make the collector's work theirs.
  entryHashes.length = 0;
  treeInputs.length = 0;
  measureProofs(store, sizes, proofs);
}

/** Every perfect node of the tree, and the byte strings the tree hashed (for the raw baseline). */
function buildStore(entryHashes: Buffer[]): { store: Map<string, Buffer>; treeInputs: Buffer[] } {
  const store = new Map<string, Buffer>();
  const treeInputs: Buffer[] = [];
  let frontier: Buffer[] = [];
  entryHashes.forEach((entryHash, seq) => {
    const leaf = leafHash(entryHash);
    treeInputs.push(Buffer.concat([Buffer.from([0]), entryHash]));
    store.set(nodeRefKey({ level: 0, index: seq }), leaf);
    const before = frontier;
    const appended = appendLeaf(frontier, seq, leaf);
    let right = leaf;
    appended.completed.forEach((node, i) => {
      treeInputs.push(Buffer.concat([Buffer.from([1]), before[before.length - 1 - i]!, right]));
      right = node;
      store.set(nodeRefKey({ level: i + 1, index: Math.floor(seq / 2 ** (i + 1)) }), node);
    });
    frontier = appended.frontier;
  });
  return { store, treeInputs };
}

function measureAppend(entryHashes: Buffer[], treeInputs: Buffer[], rounds: number): void {
  const sides: { label: string; run: () => unknown }[] = [
    { label: 'raw SHA-256 of each entry hash (32 B)', run: () => entryHashes.forEach((entryHash) => hash('sha256', entryHash, 'buffer')) },
    { label: 'raw SHA-256 of the tree\'s inputs (33/65 B)', run: () => treeInputs.forEach((input) => hash('sha256', input, 'buffer')) },
    {
      label: 'leafHash + appendLeaf (Rampart)',
      run: () => {
        let frontier: Buffer[] = [];
        entryHashes.forEach((entryHash, seq) => {
          frontier = appendLeaf(frontier, seq, leafHash(entryHash)).frontier;
        });
        return rootOfFrontier(frontier);
      },
    },
  ];
  const cpuSeconds = new Map(sides.map((side) => [side.label, [] as number[]]));
  const wallSeconds = new Map(sides.map((side) => [side.label, [] as number[]]));
  sides.forEach((side) => side.run()); // warm-up: JIT and caches for every side
  for (let round = 1; round <= rounds; round++) {
    for (const side of round % 2 === 1 ? sides : [...sides].reverse()) {
      const spent = measure(side.run);
      cpuSeconds.get(side.label)!.push(spent.cpuSeconds);
      wallSeconds.get(side.label)!.push(spent.wallSeconds);
    }
  }
  // Entries per CPU second: steadier than wall time on a shared machine, and the same when idle.
  const perCpuSecond = (label: string) => entryHashes.length / median(cpuSeconds.get(label)!);
  const [entryOnly, sameInputs, tree] = sides.map((side) => perCpuSecond(side.label)) as [number, number, number];
  console.log(`\nappend (${format(treeInputs.length / entryHashes.length, 2)} digests per entry in the tree; median of ${rounds} rounds)\n`);
  printTable([
    ['side', 'entries/s (wall)', 'entries/CPU s', 'CPU µs/entry', 'tree vs this'],
    ...sides.map((side) => {
      const rate = perCpuSecond(side.label);
      const wallRate = entryHashes.length / median(wallSeconds.get(side.label)!);
      return [side.label, format(wallRate, 0), format(rate, 0), format(1e6 / rate, 3), side.label.includes('Rampart') ? '' : format(tree / rate, 2)];
    }),
  ]);
  console.log(`\nratio appendLeaf / raw (CPU time): ${format(tree / entryOnly, 2)} against one digest per entry, ${format(tree / sameInputs, 2)} against the same digests`);
}

function measureProofs(store: Map<string, Buffer>, sizes: number[], count: number): void {
  const nodes = (ref: NodeRef): Buffer => store.get(nodeRefKey(ref))!;
  const rows: string[][] = [['tree size', 'kind', 'hashes', 'nodes read', 'p50 µs', 'p99 µs', 'CPU µs', 'verify CPU µs', 'verify/CPU s']];
  for (const size of sizes) {
    const root = (treeSize: number) => rootOfFrontier(frontierPlan(treeSize).map(nodes));
    const rootOfSize = root(size);
    const inclusion = Array.from({ length: count }, () => randomIndex(size));
    const consistency = Array.from({ length: count }, () => 1 + randomIndex(size - 1));
    rows.push(
      measureKind(size, 'inclusion', inclusion, {
        plan: (seq) => inclusionProofPlan(seq, size),
        build: (seq) => buildInclusionProof(seq, size, nodes),
        verify: (seq, proof) => verifyInclusion(seq, size, store.get(nodeRefKey({ level: 0, index: seq }))!, proof, rootOfSize),
      }),
    );
    const oldRoots = new Map(consistency.map((from) => [from, root(from)]));
    rows.push(
      measureKind(size, 'consistency', consistency, {
        plan: (from) => consistencyProofPlan(from, size),
        build: (from) => buildConsistencyProof(from, size, nodes),
        verify: (from, proof) => verifyConsistency(from, size, proof, oldRoots.get(from)!, rootOfSize),
      }),
    );
  }
  console.log(
    '\nproofs: plan + build, the storage query excluded (p50/p99: wall-clock latency of one proof; CPU µs: mean CPU time per proof); ' +
      'verification of the same proofs in CPU time\n',
  );
  printTable(rows);
}

interface ProofKind {
  plan: (n: number) => NodeRef[];
  build: (n: number) => Buffer[];
  verify: (n: number, proof: Buffer[]) => boolean;
}

function measureKind(size: number, label: string, inputs: number[], kind: ProofKind): string[] {
  inputs.slice(0, 200).forEach((n) => kind.build(n)); // warm-up
  const latencies: number[] = [];
  const built: Buffer[][] = [];
  let planned = 0;
  const generation = measure(() => {
    for (const n of inputs) {
      const start = process.hrtime.bigint();
      planned += kind.plan(n).length;
      built.push(kind.build(n));
      latencies.push(Number(process.hrtime.bigint() - start) / 1e3);
    }
  });
  let verified = 0;
  const verification = measure(() => {
    verified = inputs.filter((n, i) => kind.verify(n, built[i]!)).length;
  });
  if (verified !== inputs.length) throw new Error(`${inputs.length - verified} ${label} proofs for size ${size} did not verify`);
  latencies.sort((a, b) => a - b);
  const hashes = built.reduce((sum, proof) => sum + proof.length, 0) / built.length;
  return [
    format(size, 0),
    label,
    format(hashes, 1),
    format(planned / inputs.length, 1),
    format(percentile(latencies, 0.5), 1),
    format(percentile(latencies, 0.99), 1),
    format((generation.cpuSeconds * 1e6) / inputs.length, 1),
    format((verification.cpuSeconds * 1e6) / inputs.length, 1),
    format(inputs.length / verification.cpuSeconds, 0),
  ];
}

/** Wall and CPU (user + system) time of `work`. */
function measure(work: () => unknown): { wallSeconds: number; cpuSeconds: number } {
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  work();
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function randomIndex(below: number): number {
  return Math.floor(Math.random() * below);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export default {
  description: 'Merkle proofs of the audit log: appendLeaf against raw SHA-256, proof generation latency for 1e3..1e6 entries, verification throughput',
  run,
} satisfies Benchmark;
