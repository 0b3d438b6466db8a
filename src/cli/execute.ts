import { migrationStatus } from '../platform/db/index.js';
import { toJson } from './events.js';
import { VerbError } from './verb.js';
import type { DatabaseContext, DatabaseVerb, Json } from './verb.js';

/** Runs a database verb the same way in the server and in the CLI. */
export async function runDatabaseVerb(verb: DatabaseVerb, context: DatabaseContext): Promise<Json> {
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
