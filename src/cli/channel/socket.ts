import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Stats } from 'node:fs';
import { VerbError } from '../verb.js';

/** The socket path holds something we must not talk to (another user's socket, a plain file). */
export class AdminSocketError extends VerbError {
  override readonly name = 'AdminSocketError';
}

/**
 * Returns the socket's identity, or null when there is none. A socket owned by another user is
 * refused: sending our verbs to it would hand that user our data folder's authority.
 */
export async function inspectAdminSocket(path: string): Promise<Stats | null> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    // No folder, or no socket in it: no server; opening the folder directly reports what is wrong.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
  if (!stats.isSocket()) throw new AdminSocketError(`${path} is not a socket; remove it so the server can create its admin channel`);
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new AdminSocketError(
      `Admin socket ${path} belongs to uid ${stats.uid}, not to this user (uid ${uid}); refusing to use it: run rampart as the user that runs the server`,
    );
  }
  return stats;
}

/** True when a server accepts connections on `path`; false for a socket left by a process that died. */
export function isAnswering(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (isNoServer(error)) resolve(false);
      else reject(error);
    });
  });
}

/** The errors that mean "nobody listens there": the socket is gone, or stale. */
export function isNoServer(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'ENOENT';
}

/** Removes a stale socket, unless it was replaced meanwhile (a server that just started). */
export async function removeStaleSocket(path: string, stale: Stats): Promise<void> {
  const current = await lstat(path).catch(() => null);
  if (current && current.ino === stale.ino && current.dev === stale.dev) await unlink(path).catch(() => undefined);
}
