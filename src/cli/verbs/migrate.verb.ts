import { migrate, migrationStatus } from '../../platform/db/index.js';
import { migrationLabel, plural } from '../format.js';
import type { DatabaseVerb } from '../verb.js';

type MigrateResult = {
  applied: Array<{ version: number; name: string }>;
  /** Migrations in the database after the run. */
  total: number;
};

/** `rampart migrate`: applies pending migrations (the server also does at start). */
export const migrateVerb: DatabaseVerb<MigrateResult> = {
  name: 'migrate',
  summary: 'Apply pending database migrations',
  usage: 'rampart migrate',
  access: 'shared',
  needsCurrentSchema: false,
  async run({ database, report }) {
    const before = await migrationStatus(database.db);
    const bar = before.pending.length > 0 ? report.progress('Migrating', before.pending.length) : null;
    const applied = await migrate(database.db, ({ migration, index, done }) => {
      const label = migrationLabel(migration);
      bar?.update(done ? index + 1 : index, label);
      if (done) report.note(`Applied ${label}`);
    });
    bar?.stop();
    return { applied: applied.map(({ version, name }) => ({ version, name })), total: before.applied.length + applied.length };
  },
  render({ applied, total }) {
    if (applied.length === 0) return `Nothing to apply: the database is up to date (${plural(total, 'migration')}).`;
    return `Applied ${plural(applied.length, 'migration')}; the database is up to date (${plural(total, 'migration')}).`;
  },
};

