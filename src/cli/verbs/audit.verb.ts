import { readFile } from 'node:fs/promises';
import type { JsonWebKey } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { sql } from 'kysely';
import { ArchiveIntegrityError, readArchive } from '../../audit/archive-file.js';
import { PLATFORM_CHAIN } from '../../audit/index.js';
import { checkProofDocument } from '../../audit/proof-document.js';
import { verifyChain } from '../../audit/verify.js';
import { archiveKey } from '../../backup/index.js';
import { loadConfig } from '../../config.js';
import { loadRootKey } from '../../crypto/root-key.js';
import { listAllPublicKeys } from '../../crypto/signing-keys.js';
import { plural } from '../format.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseContext, DatabaseVerb, LocalContext } from '../verb.js';

type ChainReport = { tenant: string; valid: boolean; entries: number; head: { seq: number; hash: string } | null; first_invalid_seq?: number; reason?: string };
type AuditResult =
  | { action: 'verify'; valid: boolean; chains: ChainReport[] }
  | { action: 'verify-proof'; valid: boolean; type: string; reason?: string }
  | { action: 'archive-read'; valid: boolean; file: string; tenant: string; from: number; below: number; entries: number; sha256: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function entriesLabel(count: number): string {
  return `${count} ${count === 1 ? 'entry' : 'entries'}`;
}

function chainLabel(tenant: string): string {
  return tenant === PLATFORM_CHAIN ? 'the platform chain' : `org ${tenant}`;
}

async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(path), 'utf8');
  } catch {
    throw new VerbError(`cannot read the ${what} file ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new VerbError(`the ${what} file ${path} is not JSON`);
  }
}

/** Every chain (every org's and the platform's), or the one --org names, each recomputed in full. */
async function verifyChains({ database, input, report }: DatabaseContext): Promise<AuditResult> {
  const org = input.options.org;
  if (org !== undefined && (typeof org !== 'string' || !(UUID.test(org) || org === 'platform'))) throw new UsageError('audit verify: --org must be an org id (a UUID) or "platform"');
  // Listed through the function: the table owner sees no head outside a tenant scope (RLS is forced).
  const { rows } = await sql<{ tenant_id: string; size: number; archived_size: number }>`select tenant_id, size, archived_size from rampart_audit_chains()`.execute(database.db);
  const wanted = org === undefined ? rows : rows.filter((row) => row.tenant_id === (org === 'platform' ? PLATFORM_CHAIN : org.toLowerCase()));
  if (org !== undefined && wanted.length === 0) throw new VerbError(`${chainLabel(org === 'platform' ? PLATFORM_CHAIN : org)} has no audit entries`);
  const total = wanted.reduce((sum, row) => sum + row.size - row.archived_size, 0);
  const bar = report.progress('Verifying', total);
  const chains: ChainReport[] = [];
  let done = 0;
  for (const row of wanted) {
    const result = await verifyChain(database.db, row.tenant_id, { onProgress: ({ checked }) => bar.update(done + checked, chainLabel(row.tenant_id)) });
    done += row.size - row.archived_size;
    bar.update(done, chainLabel(row.tenant_id));
    chains.push({ tenant: row.tenant_id, ...result });
  }
  bar.stop();
  const broken = chains.filter((chain) => !chain.valid);
  if (broken.length > 0) {
    const lines = broken.map((chain) => `${chainLabel(chain.tenant)}: first invalid entry seq ${chain.first_invalid_seq} (${chain.reason})`);
    throw new VerbError(`The audit log is NOT intact. ${lines.join('; ')}`);
  }
  return { action: 'verify', valid: true, chains };
}

/** The audit public keys of the --jwks file; null when none is given. */
async function keysFromFile({ input }: LocalContext): Promise<JsonWebKey[] | null> {
  const jwksPath = input.options.jwks;
  if (typeof jwksPath !== 'string') return null;
  const jwks = await readJsonFile(jwksPath, 'key set');
  const listed = Array.isArray(jwks) ? jwks : (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(listed)) throw new VerbError(`the key set file ${jwksPath} has no "keys" list`);
  return listed as JsonWebKey[];
}

/** The --jwks file's keys, else the database's (all of them, retired ones included). */
async function auditKeys(context: DatabaseContext): Promise<JsonWebKey[]> {
  return (await keysFromFile(context)) ?? listAllPublicKeys(context.database.db, 'audit-checkpoint');
}

/** An inclusion or consistency proof document (from the proof routes), checked against the audit public keys. */
async function verifyProof(input: LocalContext['input'], keys: () => Promise<JsonWebKey[]>): Promise<AuditResult> {
  const proofPath = input.options.proof;
  if (typeof proofPath !== 'string') throw new UsageError('audit verify-proof: --proof <file> is required');
  const document = await readJsonFile(proofPath, 'proof');
  const outcome = checkProofDocument(document, await keys());
  const type = typeof (document as { type?: unknown } | null)?.type === 'string' ? (document as { type: string }).type : 'unknown';
  if (!outcome.valid) throw new VerbError(`The ${type} proof does NOT verify: ${outcome.failure}: ${outcome.reason}`);
  return { action: 'verify-proof', valid: true, type };
}

/**
 * A retention archive file, decrypted (with the backup hierarchy's archive key, from the root key)
 * and checked: every entry's hash and link, and the signed checkpoints at both ends.
 */
async function readArchiveFile(input: LocalContext['input'], rootKey: Buffer, keys: JsonWebKey[]): Promise<AuditResult> {
  const path = input.positionals[1];
  if (path === undefined) throw new UsageError('audit archive-read: name the archive file, e.g. rampart audit archive-read <file>');
  try {
    // The file's own name is bound into its encryption: a renamed archive is refused.
    const summary = await readArchive(resolve(path), basename(path), archiveKey(rootKey, 'audit-archive'), keys);
    return { action: 'archive-read', valid: true, file: path, tenant: summary.tenant, from: summary.from, below: summary.below, entries: summary.entries, sha256: summary.sha256 };
  } catch (error) {
    if (error instanceof ArchiveIntegrityError) throw new VerbError(`The archive ${path} does NOT verify: ${error.message}`);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new VerbError(`cannot read the archive file ${path}`);
    throw error;
  }
}

/** `rampart audit verify|verify-proof`: recompute the hash chains and signed tree heads, or check a proof offline. */
export const auditVerb: DatabaseVerb<AuditResult> = {
  name: 'audit',
  summary: 'Verify the audit log (rampart audit verify [--org <id>]), a proof (verify-proof --proof <file>) or a retention archive (archive-read <file>)',
  usage: 'rampart audit verify [--org <id>] | rampart audit verify-proof --proof <file> [--jwks <file>] | rampart audit archive-read <file> [--jwks <file>]',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 2,
  options: {
    org: { type: 'string', description: '--org <id>  verify only this org\'s chain ("platform" for the platform chain); default every chain' },
    proof: { type: 'string', description: '--proof <file>  verify-proof: the proof document (JSON from the proofs routes)' },
    jwks: { type: 'string', description: '--jwks <file>  verify-proof, archive-read: the audit public keys (GET /v1/audit/keys), no database needed; default: read them from the database' },
  },
  async run(context) {
    const action = context.input.positionals[0];
    if (action !== 'archive-read' && context.input.positionals.length > 1) throw new UsageError(`audit ${action}: unexpected argument "${context.input.positionals[1]}"`);
    if (action === 'verify') return verifyChains(context);
    if (action === 'verify-proof') return verifyProof(context.input, () => auditKeys(context));
    if (action === 'archive-read') return readArchiveFile(context.input, context.rootKey, await auditKeys(context));
    throw new UsageError('audit: say what to do, e.g. rampart audit verify');
  },
  // With the keys in a file, checking a proof or an archive needs no database: a tenant, or an
  // auditor with the root key, runs it anywhere.
  offline: {
    when: (input) => typeof input.options.jwks === 'string' && (input.positionals[0] === 'verify-proof' || input.positionals[0] === 'archive-read'),
    async run(context) {
      const keys = (await keysFromFile(context))!;
      if (context.input.positionals[0] === 'verify-proof') return verifyProof(context.input, async () => keys);
      return readArchiveFile(context.input, await loadRootKey(loadConfig().rootKey), keys);
    },
  },
  render(result) {
    if (result.action === 'verify-proof') return `The ${result.type} proof verifies: the checkpoint signature and the proof are valid.`;
    if (result.action === 'archive-read') {
      return `The archive ${result.file} is intact: ${entriesLabel(result.entries)} of ${chainLabel(result.tenant)} (seq ${result.from} to ${result.below - 1}), every hash and link, and the signed checkpoints it starts and ends at, match. SHA-256 ${result.sha256}`;
    }
    if (result.chains.length === 0) return 'The audit log is empty: nothing to verify.';
    const entries = result.chains.reduce((sum, chain) => sum + chain.entries, 0);
    return [
      `The audit log is intact: ${plural(result.chains.length, 'chain')}, ${entriesLabel(entries)} checked, every hash, link and signed checkpoint matches.`,
      ...result.chains.map((chain) => `  ${chainLabel(chain.tenant)}: ${entriesLabel(chain.entries)}, head seq ${chain.head?.seq ?? '-'}`),
    ].join('\n');
  },
};
