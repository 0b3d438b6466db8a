import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A folder that holds backups: the local backup folder or an off-site one (a mounted volume).
 * A backup is written under `.partial-<id>` and renamed to `<id>` only once complete and
 * verified; rename is atomic within a filesystem, so a listed backup is always a whole one.
 */
export interface BackupTarget {
  /** For messages: `local` or `offsite:<n>`. */
  name: string;
  dir: string;
}

const BACKUP_ID = /^(\d{8}T\d{6})(\d{3})Z-[0-9a-f]{8}$/;
const PARTIAL_PREFIX = '.partial-';

/** A new id: its UTC creation time to the millisecond (so ids sort by age), then random. */
export function newBackupId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export function isBackupId(value: string): boolean {
  return BACKUP_ID.test(value);
}

/** The creation time an id carries. */
export function backupTime(id: string): Date {
  const match = BACKUP_ID.exec(id);
  if (!match) throw new Error('not a backup id');
  const [date, time] = match[1]!.split('T') as [string, string];
  return new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4)}.${match[2]}Z`);
}

export function completePath(target: BackupTarget, id: string): string {
  return join(target.dir, id);
}

export function stagingPath(target: BackupTarget, id: string): string {
  return join(target.dir, `${PARTIAL_PREFIX}${id}`);
}

/** Creates the staging folder for `id` (owner-only). */
export async function openStaging(target: BackupTarget, id: string): Promise<string> {
  await mkdir(target.dir, { recursive: true, mode: 0o700 });
  const path = stagingPath(target, id);
  await mkdir(path, { mode: 0o700 });
  return path;
}

/** Copies a complete staging folder's files into this target's own staging folder. */
export async function copyStaging(fromDir: string, files: string[], target: BackupTarget, id: string): Promise<string> {
  const path = await openStaging(target, id);
  for (const file of files) await copyFile(join(fromDir, file), join(path, file));
  return path;
}

export async function commitStaging(target: BackupTarget, id: string): Promise<void> {
  await rename(stagingPath(target, id), completePath(target, id));
}

/** Removes a backup, complete or partial; removing what is not there is not an error. */
export async function removeBackup(target: BackupTarget, id: string): Promise<void> {
  await rm(stagingPath(target, id), { recursive: true, force: true });
  await rm(completePath(target, id), { recursive: true, force: true });
}

/** Complete backups only, oldest first; partial ones are never listed. */
export async function listBackupIds(target: BackupTarget): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(target.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.filter(isBackupId).sort();
}

/** Removes partial backups older than `olderThan` (left by a crash); returns how many. */
export async function removeStalePartials(target: BackupTarget, olderThan: Date): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(target.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const entry of entries.filter((name) => name.startsWith(PARTIAL_PREFIX))) {
    const path = join(target.dir, entry);
    if ((await stat(path)).mtime < olderThan) {
      await rm(path, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
