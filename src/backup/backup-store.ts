import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from './manifest.js';

/**
 * A place that holds backups: the local backup folder, an off-site folder (a mounted volume) or
 * an S3-compatible bucket (s3-target.ts). A backup is first written as a partial copy, verified
 * as it reads back, and only then committed; listing shows committed backups only, so a listed
 * backup is always a whole one.
 */
export interface BackupTarget {
  /** For messages and listings: `local`, `offsite:<n>` or `s3:<bucket>`. */
  readonly name: string;
  /** Refuses (throws) when this target may not receive backups (data residency); called before any write. */
  checkWritable(): Promise<void>;
  /** Writes the files of a complete local staging folder as this target's partial copy of `id`. */
  stage(fromDir: string, files: string[], id: string): Promise<void>;
  /** Runs `use` on a local folder holding the backup's files: the target's own, or a copy downloaded for it and removed after. */
  read<T>(id: string, state: 'partial' | 'complete', use: (dir: string) => Promise<T>): Promise<T>;
  /** Makes the partial copy a listed, complete backup (atomically: a folder rename, a marker object). */
  commit(id: string): Promise<void>;
  /** Complete backups only, oldest first; partial ones are never listed. */
  list(): Promise<string[]>;
  holds(id: string): Promise<boolean>;
  /** Removes a backup, complete or partial; removing what is not there is not an error. */
  remove(id: string): Promise<void>;
  /** Removes partial backups older than `olderThan` (left by a crash); returns how many. */
  removeStalePartials(olderThan: Date): Promise<number>;
}

/** A folder target; the local one is also where a backup is first written. */
export interface FolderTarget extends BackupTarget {
  readonly dir: string;
  /** Creates the staging folder for `id` (owner-only) and returns it. */
  openStaging(id: string): Promise<string>;
  /** A fresh owner-only folder among this target's partial ones (pruned with them after a crash). */
  scratchFolder(label: string): Promise<string>;
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

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function createFolderTarget(name: string, dir: string): FolderTarget {
  const completePath = (id: string) => join(dir, id);
  const stagingPath = (id: string) => join(dir, `${PARTIAL_PREFIX}${id}`);
  const openStaging = async (id: string): Promise<string> => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = stagingPath(id);
    await mkdir(path, { mode: 0o700 });
    return path;
  };
  return {
    name,
    dir,
    openStaging,
    async scratchFolder(label: string) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return mkdtemp(join(dir, `${PARTIAL_PREFIX}${label}-`));
    },
    // A mounted folder's residency is the operator's to place (docs/operations.md).
    async checkWritable() {},
    async stage(fromDir, files, id) {
      const path = await openStaging(id);
      for (const file of files) await copyFile(join(fromDir, file), join(path, file));
    },
    async read(id, state, use) {
      return use(state === 'partial' ? stagingPath(id) : completePath(id));
    },
    async commit(id) {
      await rename(stagingPath(id), completePath(id));
    },
    async list() {
      return (await entriesOf(dir)).filter(isBackupId).sort();
    },
    async holds(id) {
      return (await stat(join(completePath(id), MANIFEST_FILE)).catch(() => null)) !== null;
    },
    async remove(id) {
      await rm(stagingPath(id), { recursive: true, force: true });
      await rm(completePath(id), { recursive: true, force: true });
    },
    async removeStalePartials(olderThan) {
      let removed = 0;
      for (const entry of (await entriesOf(dir)).filter((name) => name.startsWith(PARTIAL_PREFIX))) {
        const path = join(dir, entry);
        if ((await stat(path)).mtime < olderThan) {
          await rm(path, { recursive: true, force: true });
          removed++;
        }
      }
      return removed;
    },
  };
}
