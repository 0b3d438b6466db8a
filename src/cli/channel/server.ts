import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Stats } from 'node:fs';
import { chmod, lstat, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../platform/log/logger.js';
import type { Runtime } from '../../runtime.js';
import type { Verb } from '../verb.js';
import { createAdminHandler } from './handler.js';
import { adminSocketPath } from './protocol.js';
import type { ServerInfo } from './protocol.js';
import { inspectAdminSocket, isAnswering } from './socket.js';

/** The server's end of the admin channel. */
export interface AdminChannel {
  readonly path: string;
  /** Stops accepting, lets running verbs finish, removes the socket. */
  close(): Promise<void>;
}

export interface AdminChannelOptions {
  runtime: Runtime;
  verbs: readonly Verb[];
  info: ServerInfo;
  logger: Logger;
}

// Linux allows 108 bytes in a socket address, macOS 104; past that bind fails or truncates.
const MAX_SOCKET_PATH_BYTES = 100;

/**
 * Listens on `<dataDir>/admin.sock`. The socket is bound under a private name, made 0600, and only
 * then renamed into place: a CLI never finds a socket that does not answer yet or that is briefly
 * open to others, and a stale socket left by a crash is replaced atomically.
 *
 * Returns null (and logs why) when the channel cannot be offered; the server still serves HTTP.
 */
export async function openAdminChannel(options: AdminChannelOptions): Promise<AdminChannel | null> {
  const { logger } = options;
  const path = adminSocketPath(options.runtime.config.dataDir);
  const privatePath = join(options.runtime.config.dataDir, `admin.${process.pid}.sock`);
  if (Buffer.byteLength(privatePath) > MAX_SOCKET_PATH_BYTES) {
    logger.warn({ path }, 'admin channel disabled: the data folder path is too long for a Unix socket; CLI verbs cannot run while this server does');
    return null;
  }
  const server = createServer(createAdminHandler(options));
  try {
    const ours = await bindPrivately(server, privatePath);
    const refusal = await whyNotClaim(path);
    if (refusal) {
      logger.warn({ path }, `admin channel disabled: ${refusal}`);
      await closeServer(server);
      return null;
    }
    await rename(privatePath, path);
    logger.info({ path }, 'admin channel listening');
    return {
      path,
      async close() {
        await closeServer(server);
        // Only our own socket: another server may have taken the path over meanwhile.
        const current = await lstat(path).catch(() => null);
        if (current && current.ino === ours.ino && current.dev === ours.dev) await unlink(path).catch(() => undefined);
      },
    };
  } catch (error) {
    // The server still serves HTTP; only local CLI verbs lose their way in, and the log says why.
    logger.warn({ err: error, path }, 'admin channel disabled: it could not be opened');
    await closeServer(server);
    await rm(privatePath, { force: true });
    return null;
  }
}

/** Listens on a name no CLI looks at, owner-only, and returns the socket's identity. */
async function bindPrivately(server: Server, path: string): Promise<Stats> {
  await rm(path, { force: true });
  await listen(server, path);
  await chmod(path, 0o600);
  return lstat(path);
}

async function whyNotClaim(path: string): Promise<string | null> {
  try {
    const existing = await inspectAdminSocket(path);
    if (existing && (await isAnswering(path))) return 'another Rampart server on this data folder already answers there (CLI verbs go through it)';
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // Resolves also when the server never listened (close() then reports ERR_SERVER_NOT_RUNNING).
    server.close(() => resolve());
    // Connections between requests would otherwise hold close() open; running verbs are waited for.
    server.closeIdleConnections();
  });
}
