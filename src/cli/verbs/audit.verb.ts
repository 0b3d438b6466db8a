import { readFile } from 'node:fs/promises';
import type { JsonWebKey } from 'node:crypto';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import { PLATFORM_CHAIN } from '../../audit/index.js';
import { checkProofDocument } from '../../audit/proof-document.js';
import { verifyChain } from '../../audit/verify.js';
import { listAllPublicKeys } from '../../crypto/signing-keys.js';
import { plural } from '../format.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseContext, DatabaseVerb } from '../verb.js';

type ChainReport = { tenant: string; valid: boolean; entries: number; head: { seq: number; hash: string } | null; first_invalid_seq?: number; reason?: string };
type AuditResult = { action: 'verify'; valid: boolean; chains: ChainReport[] } | { action: 'verify-proof'; valid: boolean; type: string; reason?: string };

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

/** An inclusion or consistency proof document (from the proof routes), checked against the audit public keys. */
async function verifyProof({ database, input }: DatabaseContext): Promise<AuditResult> {
  const proofPath = input.options.proof;
  if (typeof proofPath !== 'string') throw new UsageError('audit verify-proof: --proof <file> is required');
  const document = await readJsonFile(proofPath, 'proof');
  const jwksPath = input.options.jwks;
  let keys: JsonWebKey[];
  if (typeof jwksPath === 'string') {
    const jwks = await readJsonFile(jwksPath, 'key set');
    const listed = Array.isArray(jwks) ? jwks : (jwks as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(listed)) throw new VerbError(`the key set file ${jwksPath} has no "keys" list`);
    keys = listed as JsonWebKey[];
  } else {
    keys = await listAllPublicKeys(database.db, 'audit-checkpoint');
  }
  const outcome = checkProofDocument(document, keys);
  const type = typeof (document as { type?: unknown } | null)?.type === 'string' ? (document as { type: string }).type : 'unknown';
  if (!outcome.valid) throw new VerbError(`The ${type} proof does NOT verify: ${outcome.reason ?? 'invalid'}`);
  return { action: 'verify-proof', valid: true, type };
}

/** `rampart audit verify|verify-proof`: recompute the hash chains and signed tree heads, or check a proof offline. */
export const auditVerb: DatabaseVerb<AuditResult> = {
  name: 'audit',
  summary: 'Verify the audit log (rampart audit verify [--org <id>]) or a proof (rampart audit verify-proof --proof <file>)',
  usage: 'rampart audit verify [--org <id>] | rampart audit verify-proof --proof <file> [--jwks <file>]',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  options: {
    org: { type: 'string', description: '--org <id>  verify only this org\'s chain ("platform" for the platform chain); default every chain' },
    proof: { type: 'string', description: '--proof <file>  verify-proof: the proof document (JSON from the proofs routes)' },
    jwks: { type: 'string', description: '--jwks <file>  verify-proof: the audit public keys (GET /v1/audit/keys); default: read them from the database' },
  },
  async run(context) {
    const action = context.input.positionals[0];
    if (action === 'verify') return verifyChains(context);
    if (action === 'verify-proof') return verifyProof(context);
    throw new UsageError('audit: say what to do, e.g. rampart audit verify');
  },
  render(result) {
    if (result.action === 'verify-proof') return `The ${result.type} proof verifies: the checkpoint signature and the proof are valid.`;
    if (result.chains.length === 0) return 'The audit log is empty: nothing to verify.';
    const entries = result.chains.reduce((sum, chain) => sum + chain.entries, 0);
    return [
      `The audit log is intact: ${plural(result.chains.length, 'chain')}, ${entriesLabel(entries)} checked, every hash, link and signed checkpoint matches.`,
      ...result.chains.map((chain) => `  ${chainLabel(chain.tenant)}: ${entriesLabel(chain.entries)}, head seq ${chain.head?.seq ?? '-'}`),
    ].join('\n');
  },
};
