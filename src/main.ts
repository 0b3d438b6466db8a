import { buildApp } from './app.js';
import type { App } from './app.js';
import { startAdminChannel } from './cli/index.js';
import type { AdminChannel } from './cli/index.js';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { createLogger } from './platform/log/logger.js';
import type { Logger } from './platform/log/logger.js';
import { describeOperatorError, toListenError } from './operator-errors.js';
import { checkTlsFiles } from './preflight.js';
import { openRuntime } from './runtime.js';
import type { Runtime } from './runtime.js';
import { PACKAGE_VERSION } from './version.js';

/** What shutdown must close, filled in as start-up gets further. */
interface Running {
  logger: Logger;
  runtime: Runtime;
  app: App;
  admin: AdminChannel | null;
}

/** Start-up: config -> data folder and keys -> database and migrations -> app -> listen -> jobs -> admin channel. */
async function main(): Promise<void> {
  const config = loadConfig();
  await checkTlsFiles(config.tls);
  const runtime = await openRuntime(config, { migrate: true });
  const logger = createLogger(config.logLevel);
  let app: App | undefined;
  let running: Running;
  try {
    app = await buildApp({ config, database: runtime.database, rootKey: runtime.rootKey, logger });
    running = { logger, runtime, app, admin: null };
    handleSignals(running);
    await app.listen({ host: config.host, port: config.port }).catch((error: unknown) => {
      throw toListenError(error, config.host, config.port);
    });
  } catch (error) {
    await app?.close().catch(() => undefined);
    await runtime.close();
    throw error;
  }
  // Jobs start only once the server is up; closing the app stops the worker before the database closes.
  running.app.worker.start();
  const url = listeningUrl(running.app, config);
  const startedAt = new Date().toISOString();
  running.admin = await startAdminChannel(runtime, { pid: process.pid, version: PACKAGE_VERSION, env: config.env, url, startedAt }, logger);
  // Printed last: once this line is out, HTTP and the admin channel both answer.
  console.log(`Rampart ${config.env} listening on ${url} (database: ${runtime.database.kind}, data: ${config.dataDir})`);
}

/** SIGTERM/SIGINT: stop accepting, let in-flight requests and admin verbs finish, close the database. */
function handleSignals(running: Running): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down: draining in-flight requests');
    try {
      // A keep-alive connection whose request finishes during the drain would otherwise sit idle
      // for the whole keep-alive timeout (72 s) before close() resolves; let it go right away.
      running.app.server.keepAliveTimeout = 1;
      // app.close() stops accepting, waits for in-flight requests, then runs every onClose hook.
      await Promise.all([running.admin?.close(), running.app.close()]);
      await running.runtime.close();
      running.logger.info('shut down cleanly');
      running.logger.flush();
      process.exit(0);
    } catch (error) {
      running.logger.error({ err: error }, 'shutdown failed');
      running.logger.flush();
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function listeningUrl(app: App, config: Config): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return `${config.tls ? 'https' : 'http'}://${config.host}:${port}`;
}

main().catch((error: unknown) => {
  const line = describeOperatorError(error);
  console.error(line ? `rampart: ${line}` : error);
  process.exit(1);
});
