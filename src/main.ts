import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { RootKeyError } from './crypto/root-key.js';
import { DataDirError } from './platform/data-dir.js';
import { createLogger } from './platform/log/logger.js';
import { scrubString } from './platform/log/scrub.js';
import { openRuntime } from './runtime.js';

/** Start-up: config -> data folder and keys -> database and migrations -> app -> listen. */
async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await openRuntime(config, { migrate: true });
  const logger = createLogger(config.logLevel);
  const app = await buildApp({ config, database: runtime.database, logger });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    try {
      // Stops accepting, waits for in-flight requests, then runs every onClose hook.
      await app.close();
      await runtime.close();
      logger.flush();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close().catch(() => undefined);
    await runtime.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const scheme = config.tls ? 'https' : 'http';
  console.log(`Rampart ${config.env} listening on ${scheme}://${config.host}:${port} (database: ${runtime.database.kind}, data: ${config.dataDir})`);
}

/** One clear line for the failures an operator can fix; a stack only for real bugs. */
function describeStartupError(error: unknown): string | null {
  if (error instanceof ConfigError || error instanceof DataDirError || error instanceof RootKeyError) return error.message;
  const { code, message } = error as NodeJS.ErrnoException;
  const config = safeConfig();
  if (code === 'EADDRINUSE') return `Port ${config?.port} on ${config?.host} is already in use; stop the other process or set RAMPART_PORT`;
  if (code === 'EACCES' && /listen/.test(message)) return `Not allowed to listen on port ${config?.port}; choose a port above 1023 with RAMPART_PORT`;
  if (code === 'EADDRNOTAVAIL') return `Address ${config?.host} is not on this machine; set RAMPART_HOST`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000') {
    return `Cannot use the database at DATABASE_URL (${code}): ${scrubString(message)}`;
  }
  if (code === 'ENOENT' && config?.tls) return `Cannot read the TLS certificate or key: ${scrubString(message)}`;
  return null;
}

function safeConfig() {
  try {
    return loadConfig();
  } catch {
    return null;
  }
}

main().catch((error: unknown) => {
  const line = describeStartupError(error);
  console.error(line ? `rampart: ${line}` : error);
  process.exit(1);
});
