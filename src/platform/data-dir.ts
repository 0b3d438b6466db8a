import { chmod, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Thrown when the data folder cannot be used; the message says what to do. */
export class DataDirError extends Error {
  override readonly name: string = 'DataDirError';
}

/** The data folder is locked by another live process; the CLI waits for it or goes through it. */
export class DataDirInUseError extends DataDirError {
  override readonly name = 'DataDirInUseError';

  constructor(
    message: string,
    readonly ownerPid: number,
  ) {
    super(message);
  }
}

/** Creates the data folder (0700) if needed, closes it to other users, and checks it is writable. */
export async function prepareDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A folder made beforehand by someone else's hand may be open to other users; the database
    // files and the admin socket inside must not be.
    if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
    const probe = join(dir, '.write-test');
    await (await open(probe, 'w', 0o600)).close();
    await rm(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new DataDirError(`Cannot use data folder ${dir} (${code}); set RAMPART_DATA_DIR to a folder this user can write`);
  }
}

/**
 * The embedded database belongs to one process at a time. The lock file holds the owner's pid;
 * a lock left by a process that no longer exists is taken over.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'rampart.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new DataDirInUseError(`Data folder ${dir} is in use by process ${owner}; stop it first, or run CLI verbs while it runs (they go through it)`, owner);
      }
      await rm(path, { force: true });
    }
  }
  throw new DataDirError(`Could not lock data folder ${dir}; remove ${path} if no Rampart process is running`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
