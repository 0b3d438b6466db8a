import type { JsonWebKey } from 'node:crypto';
import type { Selectable } from 'kysely';
import { PartIntegrityError, readPart, writePart } from '../backup/index.js';
import type { AuditEntriesTable } from '../platform/db/schema.js';
import { GENESIS_HASH } from './canonical.js';
import type { ChainedEntry } from './canonical.js';
import { toBuffer, toBuffers } from './chain.js';
import { verifyTreeHead } from './checkpoint.js';
import { rootOfFrontier } from './merkle.js';
import type { SignedCheckpoint } from './proof-document.js';
import { checkNextEntry } from './verify.js';
import type { ChainWalk } from './verify.js';

/**
 * The sealed archive file retention writes before it deletes a chain's prefix: NDJSON (a header,
 * then one line per entry), gzip, then the backup part cipher (authenticated AES-256-GCM chunks)
 * under a key of the backup hierarchy. The header carries the signed checkpoint at the archive's
 * end (`below`) and the chain's state at its start (`from`: the hash to link to, the Merkle
 * frontier and, past genesis, the signed checkpoint there), so the file alone proves its entries:
 * every hash and link, and the Merkle root they give is the signed one the live chain starts from.
 */
export const ARCHIVE_FORMAT = 'rampart.audit.archive.v1';

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  tenant: string;
  from: number;
  below: number;
  start: { prev_hash: string; frontier: string[]; checkpoint: SignedCheckpoint | null };
  checkpoint: SignedCheckpoint;
}

/** An entry as archived: every stored column, binary ones in hex (personal in base64). */
export interface ArchivedEntry {
  seq: number;
  id: string;
  at: string;
  action: string;
  actor_type: ChainedEntry['actor']['type'];
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  metadata: Record<string, unknown>;
  personal: string | null;
  subject_id: string | null;
  prev_hash: string;
  hash: string;
  tree_nodes: string[];
}

/** The archive cannot be trusted; the message says where and why. */
export class ArchiveIntegrityError extends Error {
  override readonly name = 'ArchiveIntegrityError';
}

export interface ArchiveSummary {
  tenant: string;
  from: number;
  below: number;
  entries: number;
  checkpoint: SignedCheckpoint;
  /** SHA-256 (hex) of the file as stored. */
  sha256: string;
}

const READ_BATCH = 1000;

/** The AAD binding of every chunk: a file renamed or moved to another chain no longer opens. */
function bindingOf(file: string) {
  return { backupId: 'audit-archive', part: file };
}

export function toArchivedEntry(row: Selectable<AuditEntriesTable>): ArchivedEntry {
  return {
    seq: row.seq,
    id: row.id,
    at: row.at.toISOString(),
    action: row.action,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    target_type: row.target_type,
    target_id: row.target_id,
    request_id: row.request_id,
    metadata: row.metadata as Record<string, unknown>,
    personal: row.personal ? toBuffer(row.personal).toString('base64') : null,
    subject_id: row.subject_id,
    prev_hash: toBuffer(row.prev_hash).toString('hex'),
    hash: toBuffer(row.hash).toString('hex'),
    tree_nodes: toBuffers(row.tree_nodes).map((node) => node.toString('hex')),
  };
}

function chainedEntryOfArchived(tenant: string, entry: ArchivedEntry): ChainedEntry {
  return {
    tenantId: tenant,
    seq: entry.seq,
    id: entry.id,
    at: new Date(entry.at),
    action: entry.action,
    actor: { type: entry.actor_type, id: entry.actor_id },
    target: entry.target_type !== null && entry.target_id !== null ? { type: entry.target_type, id: entry.target_id } : null,
    requestId: entry.request_id,
    metadata: entry.metadata,
    personal: entry.personal === null ? null : Buffer.from(entry.personal, 'base64'),
    subjectId: entry.subject_id,
    prevHash: Buffer.from(entry.prev_hash, 'hex'),
  };
}

/** Writes the archive to `path` (which must not exist); returns its SHA-256. */
export async function writeArchive(path: string, file: string, key: Buffer, header: ArchiveHeader, entries: AsyncIterable<ArchivedEntry[]>): Promise<string> {
  async function* lines(): AsyncGenerator<readonly unknown[]> {
    yield [header];
    yield* entries;
  }
  return (await writePart(path, lines(), key, bindingOf(file))).sha256;
}

function checkpointProblem(tenant: string, checkpoint: SignedCheckpoint, root: Buffer, publicKeys: JsonWebKey[], name: string): string | null {
  if (!root.equals(Buffer.from(checkpoint.root, 'hex'))) return `the entries do not give the root of the ${name} checkpoint (size ${checkpoint.size})`;
  const key = publicKeys.find((candidate) => (candidate as { kid?: unknown }).kid === checkpoint.key_id);
  const head = { tenant, size: checkpoint.size, root, time: new Date(checkpoint.time) };
  if (!key || !verifyTreeHead(key, head, Buffer.from(checkpoint.signature, 'base64url'))) return `the ${name} checkpoint (size ${checkpoint.size}) has no valid signature by a known audit key`;
  return null;
}

function isHeader(value: unknown): value is ArchiveHeader {
  const header = value as Partial<ArchiveHeader> | null;
  return typeof header === 'object' && header !== null && header.format === ARCHIVE_FORMAT && typeof header.tenant === 'string' && Number.isSafeInteger(header.from) && Number.isSafeInteger(header.below) && typeof header.start === 'object' && typeof header.checkpoint === 'object';
}

/**
 * Decrypts and checks an archive end to end with the audit public keys: every chunk's tag, every
 * entry's hash and link from the start state, the Merkle nodes, the signed checkpoints at both ends.
 * `file` is the name it was written under (bound into its chunks). Throws ArchiveIntegrityError.
 */
export async function readArchive(path: string, file: string, key: Buffer, publicKeys: JsonWebKey[]): Promise<ArchiveSummary> {
  const reader = readPart<unknown>(path, key, bindingOf(file), READ_BATCH);
  let header: ArchiveHeader | null = null;
  let walk: ChainWalk | null = null;
  try {
    for await (const batch of reader.items) {
      for (const line of batch) {
        if (!header || !walk) {
          if (!isHeader(line)) throw new ArchiveIntegrityError('not a Rampart audit archive (bad header)');
          header = line;
          walk = { size: header.from, prevHash: Buffer.from(header.start.prev_hash, 'hex'), frontier: header.start.frontier.map((node) => Buffer.from(node, 'hex')) };
          if (header.from === 0 ? !walk.prevHash.equals(GENESIS_HASH) || walk.frontier.length > 0 : !header.start.checkpoint || header.start.checkpoint.size !== header.from) {
            throw new ArchiveIntegrityError('the start of the archive is not the genesis or a signed checkpoint');
          }
          const startProblem = header.start.checkpoint && checkpointProblem(header.tenant, header.start.checkpoint, rootOfFrontier(walk.frontier), publicKeys, 'start');
          if (startProblem) throw new ArchiveIntegrityError(startProblem);
          continue;
        }
        const entry = line as ArchivedEntry;
        const problem = checkNextEntry(walk, chainedEntryOfArchived(header.tenant, entry), Buffer.from(entry.hash, 'hex'), entry.tree_nodes.map((node) => Buffer.from(node, 'hex')));
        if (problem) throw new ArchiveIntegrityError(`entry ${walk.size}: ${problem}`);
      }
    }
  } catch (error) {
    if (error instanceof PartIntegrityError) throw new ArchiveIntegrityError(error.message);
    if (error instanceof ArchiveIntegrityError) throw error;
    throw new ArchiveIntegrityError('an entry is not in the archive format');
  }
  if (!header || !walk) throw new ArchiveIntegrityError('the archive is empty');
  if (walk.size !== header.below || header.checkpoint.size !== header.below) throw new ArchiveIntegrityError(`the archive ends at entry ${walk.size}, its checkpoint says ${header.checkpoint.size}`);
  const endProblem = checkpointProblem(header.tenant, header.checkpoint, rootOfFrontier(walk.frontier), publicKeys, 'boundary');
  if (endProblem) throw new ArchiveIntegrityError(endProblem);
  return { tenant: header.tenant, from: header.from, below: header.below, entries: header.below - header.from, checkpoint: header.checkpoint, sha256: reader.sha256() };
}
