import type { Logger } from '../platform/log/logger.js';
import type { Runtime } from '../runtime.js';
import { openAdminChannel } from './channel/server.js';
import type { AdminChannel } from './channel/server.js';
import type { ServerInfo } from './channel/protocol.js';
import { VERBS } from './verbs/index.js';

export type { AdminChannel } from './channel/server.js';
export type { ServerInfo } from './channel/protocol.js';

/** Offers every CLI verb to `rampart` on this machine through the data folder's admin socket. */
export function startAdminChannel(runtime: Runtime, info: ServerInfo, logger: Logger): Promise<AdminChannel | null> {
  return openAdminChannel({ runtime, verbs: VERBS, info, logger });
}
