import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unseal } from '../crypto/seal.js';
import { PartIntegrityError } from './chunked-cipher.js';
import { BACKUP_FORMAT, checkManifestSignature, MANIFEST_FILE, SIGNATURE_FILE } from './manifest.js';
import type { Manifest, ManifestSignature, ManifestTable } from './manifest.js';
import { countPartRows } from './parts.js';

/** One thing wrong with a backup, as precisely as it can be located. */
export interface BackupProblem {
  /** The file concerned (manifest.json, manifest.sig or a part), or null for the backup as a whole. */
  part: string | null;
  chunk: number | null;
  problem: string;
}

/** The backup cannot be used; `problems` says where and why. */
export class BackupIntegrityError extends Error {
  override readonly name = 'BackupIntegrityError';

  constructor(readonly problems: BackupProblem[]) {
    super(problems.map(describeProblem).join('; '));
  }
}

export function describeProblem({ part, chunk, problem }: BackupProblem): string {
  if (part === null) return problem;
  return `${part}${chunk === null ? '' : `, chunk ${chunk}`}: ${problem}`;
}

export interface OpenedBackup {
  dir: string;
  manifest: Manifest;
  /** The backup's own data key, unsealed with the backup key. */
  dataKey: Buffer;
}

export function dataKeyAad(id: string): string {
  return `backup-data-key:${id}`;
}

/**
 * Reads and authenticates the manifest of backup `id` in `dir` (a staging folder or a complete one) (signature, signer endorsement) and unseals its data
 * key. Parts are not read: see verifyBackup.
 */
export async function openBackup(dir: string, id: string, backupKey: Buffer): Promise<OpenedBackup> {
  const bytes = await readFile(join(dir, MANIFEST_FILE)).catch(() => null);
  if (!bytes) throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: 'missing or unreadable' }]);
  const signatureText = await readFile(join(dir, SIGNATURE_FILE), 'utf8').catch(() => null);
  if (signatureText === null) throw new BackupIntegrityError([{ part: SIGNATURE_FILE, chunk: null, problem: 'missing or unreadable' }]);
  let manifest: Manifest;
  let signature: ManifestSignature;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    signature = JSON.parse(signatureText) as ManifestSignature;
  } catch {
    throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: 'not valid JSON (the manifest or its signature was changed)' }]);
  }
  if (manifest.format !== BACKUP_FORMAT) throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: `unknown format ${String(manifest.format)}` }]);
  const wrong = checkManifestSignature(bytes, manifest, signature, backupKey);
  if (wrong) throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: wrong }]);
  if (manifest.id !== id) throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: `signed for backup ${manifest.id}, expected ${id}` }]);
  let dataKey: Buffer;
  try {
    dataKey = unseal(backupKey, Buffer.from(manifest.encryption.sealed_data_key, 'base64'), dataKeyAad(manifest.id));
  } catch {
    throw new BackupIntegrityError([{ part: MANIFEST_FILE, chunk: null, problem: 'the backup key does not open this backup (wrong root key?)' }]);
  }
  return { dir, manifest, dataKey };
}

/** Reads one part to its end, returning what is wrong with it (empty when nothing is). */
async function checkPart(backup: OpenedBackup, table: Pick<ManifestTable, 'part' | 'rows' | 'sha256'>): Promise<BackupProblem[]> {
  let counted: { rows: number; sha256: string };
  try {
    counted = await countPartRows(join(backup.dir, table.part), backup.dataKey, { backupId: backup.manifest.id, part: table.part });
  } catch (error) {
    if (error instanceof PartIntegrityError) return [{ part: error.part, chunk: error.chunk, problem: error.problem }];
    throw error;
  }
  const problems: BackupProblem[] = [];
  if (counted.sha256 !== table.sha256) problems.push({ part: table.part, chunk: null, problem: 'SHA-256 does not match the manifest' });
  if (counted.rows !== table.rows) problems.push({ part: table.part, chunk: null, problem: `holds ${counted.rows} rows, the manifest says ${table.rows}` });
  return problems;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  problems: BackupProblem[];
  tables: number;
  rows: number;
}

/**
 * Checks a backup without restoring it: the manifest's signature, the data key, and every part's
 * hash, every chunk's authentication tag, and row count. Reports every problem found.
 */
export async function verifyBackup(dir: string, id: string, backupKey: Buffer, onPart?: (done: number, total: number, part: string) => void): Promise<VerifyReport> {
  let backup: OpenedBackup;
  try {
    backup = await openBackup(dir, id, backupKey);
  } catch (error) {
    if (error instanceof BackupIntegrityError) return { id, ok: false, problems: error.problems, tables: 0, rows: 0 };
    throw error;
  }
  const problems: BackupProblem[] = [];
  const { tables } = backup.manifest;
  for (const [index, table] of tables.entries()) {
    onPart?.(index, tables.length, table.name);
    problems.push(...(await checkPart(backup, table)));
  }
  if (backup.manifest.vault_blobs) problems.push(...(await checkPart(backup, backup.manifest.vault_blobs)));
  onPart?.(tables.length, tables.length, '');
  return { id, ok: problems.length === 0, problems, tables: tables.length, rows: tables.reduce((sum, table) => sum + table.rows, 0) };
}
