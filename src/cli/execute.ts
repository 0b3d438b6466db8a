import { withAuditCipher } from '../audit/index.js';
import { systemClock } from '../platform/clock.js';
import { migrationStatus } from '../platform/db/index.js';
import { keyringFor } from '../vault/index.js';
import type { Runtime } from '../runtime.js';
import { createReporter, toJson } from './events.js';
import type { EventSink } from './events.js';
import { VerbError } from './verb.js';
import type { DatabaseContext, DatabaseVerb, Json, Verb, VerbHost, VerbInput } from './verb.js';

export interface VerbRun {
  input: VerbInput;
  sink: EventSink;
  verbs: readonly Verb[];
  host: VerbHost;
  signal: AbortSignal;
}

/**
 * Runs a database verb on an open runtime and returns its result: the one code path the server
 * (its own runtime) and the CLI (a runtime it opened) share.
 */
export async function runDatabaseVerb(verb: DatabaseVerb, runtime: Runtime, run: VerbRun): Promise<Json> {
  const context: DatabaseContext = {
    input: run.input,
    report: createReporter(run.sink),
    verbs: run.verbs,
    config: runtime.config,
    // Verbs that write audit entries (staff, backups) seal their personal fields like the server does.
    database: { ...runtime.database, db: withAuditCipher(runtime.database.db, keyringFor(runtime.config.vault, runtime.rootKey, systemClock)) },
    rootKey: runtime.rootKey,
    host: run.host,
    signal: run.signal,
  };
  if (verb.needsCurrentSchema) await assertSchemaCurrent(context);
  return toJson(await verb.run(context));
}

// A verb on a half-migrated database fails with "relation does not exist"; say what to do instead.
async function assertSchemaCurrent(context: DatabaseContext): Promise<void> {
  const { pending } = await migrationStatus(context.database.db);
  if (pending.length === 0) return;
  const count = pending.length === 1 ? '1 migration is' : `${pending.length} migrations are`;
  throw new VerbError(`${count} not applied to this database yet; run rampart migrate first`);
}
