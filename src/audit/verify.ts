import type { Kysely, Selectable } from 'kysely';
import { listAllPublicKeys } from '../crypto/signing-keys.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import type { AuditCheckpointsTable, AuditEntriesTable } from '../platform/db/schema.js';
import { entryHash } from './canonical.js';
import type { ChainedEntry } from './canonical.js';
import { toBuffer, toBuffers } from './chain.js';
import { verifyTreeHead } from './checkpoint.js';
import { appendLeaf, leafHash, rootOfFrontier } from './merkle.js';

export interface VerifyResult {
  valid: boolean;
  /** Entries checked (those retention archived are not counted). */
  entries: number;
  /** The chain's last entry as its head records it; null for an empty chain. */
  head: { seq: number; hash: string } | null;
  /**
   * The first entry that is not proven: a changed, missing or misplaced entry, or, when a signed
   * checkpoint does not match, the first entry after the last checkpoint that did.
   */
  first_invalid_seq?: number;
  /** What was found there, for operators (never entry contents). */
  reason?: string;
}

export interface VerifyOptions {
  /** Called after each batch: how many of the `total` entries are checked. */
  onProgress?: (progress: { checked: number; total: number }) => void;
  batchSize?: number;
}

const DEFAULT_BATCH = 2000;

type EntryRow = Selectable<AuditEntriesTable>;
type CheckpointRow = Selectable<AuditCheckpointsTable>;

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((value, index) => value.equals(b[index]!));
}

/** A stored row as the hash sees it. */
export function chainedEntryOf(row: EntryRow): ChainedEntry {
  return {
    tenantId: row.tenant_id,
    seq: row.seq,
    id: row.id,
    at: row.at,
    action: row.action,
    actor: { type: row.actor_type, id: row.actor_id },
    target: row.target_type !== null && row.target_id !== null ? { type: row.target_type, id: row.target_id } : null,
    requestId: row.request_id,
    metadata: row.metadata as Record<string, unknown>,
    personal: row.personal ? toBuffer(row.personal) : null,
    subjectId: row.subject_id,
    prevHash: toBuffer(row.prev_hash),
  };
}

/** Where a walk along a chain stands: the next seq, the hash it must link to, the Merkle frontier. */
export interface ChainWalk {
  size: number;
  prevHash: Buffer;
  frontier: Buffer[];
}

/**
 * Checks that `entry` (with its stored hash and Merkle nodes) is the next one of the walk, and
 * advances the walk past it; returns what is wrong instead, leaving the walk where it was. The
 * one check of an entry: the database's verification and the archive reader both use it.
 */
export function checkNextEntry(walk: ChainWalk, entry: ChainedEntry, storedHash: Buffer, treeNodes: readonly Buffer[]): string | null {
  if (entry.seq !== walk.size) return 'entry is missing';
  if (!entry.prevHash.equals(walk.prevHash)) return 'prev_hash does not link to the previous entry';
  const hash = entryHash(entry);
  if (!hash.equals(storedHash)) return 'hash does not match the entry';
  const grown = appendLeaf(walk.frontier, walk.size, leafHash(hash));
  if (!sameBuffers(grown.completed, treeNodes)) return 'stored Merkle nodes do not match';
  walk.frontier = grown.frontier;
  walk.prevHash = hash;
  walk.size += 1;
  return null;
}

/**
 * Recomputes a chain from its archived boundary (or genesis) to its head: seq continuity, every
 * prev_hash link, every hash, the Merkle tree (the stored nodes proofs are built from, and the root
 * at each signed checkpoint, whose signature is checked with the audit key). Reads in keyset
 * batches, so memory stays flat whatever the chain's length; entries appended meanwhile are left
 * for the next run.
 */
export async function verifyChain(db: Kysely<DB>, tenantId: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const { head, checkpoints } = await withTenant(db, tenantId, async (trx) => ({
    head: await trx.selectFrom('audit_heads').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst(),
    checkpoints: await trx.selectFrom('audit_checkpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('size').execute(),
  }));
  if (!head || head.size === 0) {
    return checkpoints.length > 0 ? { valid: false, entries: 0, head: null, first_invalid_seq: 0, reason: 'checkpoints exist for an empty chain' } : { valid: true, entries: 0, head: null };
  }
  const headView = { seq: head.size - 1, hash: toBuffer(head.head_hash).toString('hex') };
  const keys = new Map((await listAllPublicKeys(db, 'audit-checkpoint')).map((jwk) => [(jwk as { kid?: string }).kid, jwk]));
  const bySize = new Map<number, CheckpointRow>(checkpoints.map((checkpoint) => [checkpoint.size, checkpoint]));

  const walk: ChainWalk = { size: head.archived_size, prevHash: toBuffer(head.archived_prev_hash), frontier: toBuffers(head.archived_frontier) };
  let size = walk.size;
  // The last size a valid checkpoint (or the archived boundary) proves: a mismatching checkpoint
  // says something before it changed, not where.
  let provenSize = size;
  const invalid = (seq: number, reason: string): VerifyResult => ({ valid: false, entries: size - head.archived_size, head: headView, first_invalid_seq: seq, reason });

  function checkpointProblem(checkpoint: CheckpointRow): string | null {
    if (!rootOfFrontier(walk.frontier).equals(toBuffer(checkpoint.root))) return `the signed checkpoint at size ${checkpoint.size} does not match the entries`;
    const key = keys.get(checkpoint.key_id);
    const treeHead = { tenant: tenantId, size: checkpoint.size, root: toBuffer(checkpoint.root), time: checkpoint.at };
    if (!key || !verifyTreeHead(key, treeHead, toBuffer(checkpoint.signature))) return `the checkpoint at size ${checkpoint.size} has no valid signature`;
    return null;
  }

  if (size > 0) {
    const boundary = bySize.get(size);
    const problem = boundary ? checkpointProblem(boundary) : 'the archived boundary has no signed checkpoint';
    if (problem) return invalid(size, problem);
  }
  const beyond = checkpoints.find((checkpoint) => checkpoint.size > head.size);
  if (beyond) return invalid(head.size, `a checkpoint covers ${beyond.size} entries but the head has ${head.size}`);

  const total = head.size - head.archived_size;
  const readBatch = (from: number) => {
    const batch = withTenant(db, tenantId, (trx) =>
      trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', tenantId).where('seq', '>=', from).where('seq', '<', head.size).orderBy('seq').limit(batchSize).execute(),
    );
    // Read ahead while the previous batch is checked; a run that stops early leaves it unawaited, never unhandled.
    batch.catch(() => undefined);
    return batch;
  };
  let nextBatch = readBatch(size);
  while (size < head.size) {
    const rows = await nextBatch;
    if (rows.length === 0) return invalid(size, 'entries are missing');
    const after = rows.at(-1)!.seq + 1;
    if (after < head.size) nextBatch = readBatch(after);
    for (const row of rows) {
      const problem = checkNextEntry(walk, chainedEntryOf(row), toBuffer(row.hash), toBuffers(row.tree_nodes));
      if (problem) return invalid(size, problem);
      size = walk.size;
      const checkpoint = bySize.get(size);
      if (checkpoint) {
        const problem = checkpointProblem(checkpoint);
        if (problem) return invalid(provenSize, problem);
        provenSize = size;
      }
    }
    options.onProgress?.({ checked: size - head.archived_size, total });
  }
  if (!walk.prevHash.equals(toBuffer(head.head_hash))) return invalid(size - 1, 'the head does not point at the last entry');
  if (!sameBuffers(walk.frontier, toBuffers(head.frontier))) return invalid(size - 1, 'the head Merkle frontier does not match the entries');
  return { valid: true, entries: total, head: headView };
}
