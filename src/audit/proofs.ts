import type { Kysely } from 'kysely';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { defineErrors } from '../platform/http/index.js';
import { findCheckpoint } from './checkpoints.js';
import type { CheckpointView } from './checkpoints.js';
import { buildConsistencyProof, buildInclusionProof, consistencyProofPlan, frontierPlan, inclusionProofPlan, lastLeafIndex, leafHash, nodeRefKey } from './merkle.js';
import type { NodeRef } from './merkle.js';
import type { ConsistencyProofDocument, InclusionProofDocument } from './proof-document.js';

export const proofErrors = defineErrors({
  no_checkpoint: { status: 400, message: 'There is no signed checkpoint of this size; list them at /audit/checkpoints' },
  bad_range: { status: 400, message: 'The range is not valid' },
  archived: { status: 404, message: 'Part of this proof was archived by retention; it can be proven from the archive file' },
});

/**
 * RFC 9162 inclusion proof of entry `seq` in the tree of the org's signed checkpoint of exactly
 * `size` entries: a tenant that kept that tree head outside Rampart checks it offline.
 */
export async function inclusionProof(db: Kysely<DB>, tenantId: string, seq: number, size: number): Promise<InclusionProofDocument> {
  if (seq >= size) throw proofErrors.bad_range('seq must be below size (seq counts from 0)');
  return withTenant(db, tenantId, async (trx) => {
    const checkpoint = await checkpointOfSize(trx, tenantId, size);
    const nodes = await loadNodes(trx, tenantId, inclusionProofPlan(seq, size));
    const entry = await trx.selectFrom('audit_entries').select('hash').where('tenant_id', '=', tenantId).where('seq', '=', seq).executeTakeFirst();
    if (!entry) throw proofErrors.archived(`Entry ${seq} was archived by retention; it is proven from the archive file`);
    const proof = buildInclusionProof(seq, size, nodes);
    return { type: 'inclusion', tenant: tenantId, seq, size, entry_hash: Buffer.from(entry.hash).toString('hex'), proof: proof.map(hex), checkpoint };
  });
}

/** RFC 9162 consistency proof between the org's signed checkpoints of `from` and `to` entries. */
export async function consistencyProof(db: Kysely<DB>, tenantId: string, from: number, to: number): Promise<ConsistencyProofDocument> {
  if (from > to) throw proofErrors.bad_range('from must not be larger than to');
  return withTenant(db, tenantId, async (trx) => {
    const older = await checkpointOfSize(trx, tenantId, from);
    const newer = await checkpointOfSize(trx, tenantId, to);
    const nodes = await loadNodes(trx, tenantId, consistencyProofPlan(from, to));
    return { type: 'consistency', tenant: tenantId, from: older, to: newer, proof: buildConsistencyProof(from, to, nodes).map(hex) };
  });
}

async function checkpointOfSize(trx: TenantTransaction, tenantId: string, size: number): Promise<CheckpointView> {
  const checkpoint = await findCheckpoint(trx, tenantId, size);
  if (!checkpoint) throw proofErrors.no_checkpoint(`There is no signed checkpoint of size ${size}; list them at /audit/checkpoints`);
  return checkpoint;
}

/**
 * Reads every node a proof plan needs in one query. Node (level 0, i) is the leaf hash of entry
 * i; node (L, j) is stored with the entry that completed it, seq (j+1)*2^L - 1, at tree_nodes[L-1].
 * Nodes inside a prefix removed by retention come from the archived frontier when they are among
 * its subtrees; any other archived node makes the proof unavailable.
 */
async function loadNodes(trx: TenantTransaction, tenantId: string, refs: readonly NodeRef[]): Promise<(ref: NodeRef) => Buffer> {
  const wanted = [...new Set(refs.map(lastLeafIndex))];
  const rows = wanted.length === 0 ? [] : await trx.selectFrom('audit_entries').select(['seq', 'hash', 'tree_nodes']).where('tenant_id', '=', tenantId).where('seq', 'in', wanted).execute();
  const head = await trx.selectFrom('audit_heads').select(['archived_size', 'archived_frontier']).where('tenant_id', '=', tenantId).executeTakeFirst();
  const bySeq = new Map(rows.map((row) => [row.seq, row]));
  const archivedFrontier = head?.archived_frontier ?? [];
  const archived = new Map(frontierPlan(head?.archived_size ?? 0).map((ref, position) => [nodeRefKey(ref), archivedFrontier[position]]));
  return (ref) => {
    const fromArchive = archived.get(nodeRefKey(ref));
    if (fromArchive) return Buffer.from(fromArchive);
    const row = bySeq.get(lastLeafIndex(ref));
    const node = row && (ref.level === 0 ? leafHash(Buffer.from(row.hash)) : row.tree_nodes[ref.level - 1]);
    if (!node) throw proofErrors.archived();
    return Buffer.from(node);
  };
}

function hex(node: Buffer): string {
  return node.toString('hex');
}
