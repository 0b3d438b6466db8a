import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig } from '../config.js';
import { connectToServer } from './channel/client.js';
import { adminSocketPath } from './channel/protocol.js';
import { openDirect, runDirect } from './direct.js';
import type { EventSink } from './events.js';
import { VerbError } from './verb.js';
import type { DatabaseVerb, Verb, VerbInput } from './verb.js';

// A server that is starting (migrating) holds the data folder before its socket exists; so does
// another CLI verb. Wait for either to finish rather than fail at once.
const BUSY_WAIT_MS = 30_000;
const BUSY_POLL_MS = 200;

/**
 * Runs a database verb where it must run: through the server on this data folder when one
 * answers, else on a database the CLI opens itself (which locks the embedded database).
 */
export async function runOnHost(verb: DatabaseVerb, argv: readonly string[], input: VerbInput, sink: EventSink, verbs: readonly Verb[]): Promise<void> {
  const config = loadConfig();
  const deadline = Date.now() + BUSY_WAIT_MS;
  let waitingFor: number | null = null;
  for (;;) {
    const server = await connectToServer(config.dataDir);
    if (server) {
      if (verb.access === 'exclusive') throw new VerbError(`${verb.name} needs the database to itself; stop the server (pid ${server.info.pid}) first`);
      return server.runVerb(verb.name, argv, sink);
    }
    if (verb.access === 'server') throw new VerbError(`${verb.name} runs inside the server, and none is running on ${config.dataDir}; start it first`);
    const opened = await openDirect(config);
    if (!('busyPid' in opened)) return runDirect(verb, opened, input, sink, verbs);
    if (Date.now() > deadline) {
      throw new VerbError(
        `Data folder ${config.dataDir} is held by process ${opened.busyPid}, which does not answer on ${adminSocketPath(config.dataDir)}; if it is a Rampart server, check its log`,
      );
    }
    if (waitingFor !== opened.busyPid) {
      waitingFor = opened.busyPid;
      sink({ type: 'note', message: `Waiting for process ${opened.busyPid}, which holds the data folder (a server starting, or another verb)` });
    }
    await delay(BUSY_POLL_MS);
  }
}
