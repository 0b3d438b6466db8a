import type { Config } from '../config.js';
import { DataDirInUseError } from '../platform/data-dir.js';
import { openRuntime } from '../runtime.js';
import type { Runtime } from '../runtime.js';
import type { EventSink } from './events.js';
import { runDatabaseVerb } from './execute.js';
import type { DatabaseVerb, Verb, VerbInput } from './verb.js';

/** Opens the database for the CLI itself (no migrations), or returns the pid that holds the data folder. */
export async function openDirect(config: Config): Promise<Runtime | { busyPid: number }> {
  try {
    return await openRuntime(config, { migrate: false });
  } catch (error) {
    if (error instanceof DataDirInUseError) return { busyPid: error.ownerPid };
    throw error;
  }
}

/**
 * Runs a verb on a database the CLI opened. The first Ctrl-C asks the verb to stop (and the
 * database is still closed cleanly); a second one quits at once.
 */
export async function runDirect(verb: DatabaseVerb, runtime: Runtime, input: VerbInput, sink: EventSink, verbs: readonly Verb[]): Promise<void> {
  const abort = new AbortController();
  const onInterrupt = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    sink({ type: 'note', message: 'Stopping; press Ctrl-C again to quit at once' });
  };
  process.on('SIGINT', onInterrupt);
  try {
    const result = await runDatabaseVerb(verb, runtime, { input, sink, verbs, host: { kind: 'direct' }, signal: abort.signal });
    sink({ type: 'result', result });
  } finally {
    process.off('SIGINT', onInterrupt);
    await runtime.close();
  }
}
