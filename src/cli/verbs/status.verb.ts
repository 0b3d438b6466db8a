import { join } from 'node:path';
import { migrationStatus } from '../../platform/db/index.js';
import { queueStats } from '../../platform/jobs/index.js';
import { withoutPassword } from '../../preflight.js';
import { PACKAGE_VERSION } from '../../version.js';
import { migrationLabel } from '../format.js';
import type { DatabaseVerb } from '../verb.js';

type StatusResult = {
  version: string;
  env: string;
  dataDir: string;
  database: { kind: string; location: string };
  migrations: { applied: number; pending: number; latest: string | null; pendingNames: string[] };
  /** Jobs per state; null until the migrations that create the queue are applied. */
  jobs: { pending: number; running: number; done: number; dead: number } | null;
  server: { running: boolean; pid: number | null; url: string | null; startedAt: string | null };
};

/** `rampart status`: what this configuration points at, its queue, and whether a server runs on it. */
export const statusVerb: DatabaseVerb<StatusResult> = {
  name: 'status',
  summary: 'Show the environment, the database, its migrations and jobs, and whether a server is running',
  usage: 'rampart status',
  access: 'shared',
  needsCurrentSchema: false,
  async run({ config, database, host }) {
    const migrations = await migrationStatus(database.db);
    const latest = migrations.applied.at(-1);
    return {
      version: PACKAGE_VERSION,
      env: config.env,
      dataDir: config.dataDir,
      database: {
        kind: database.kind,
        location: config.databaseUrl ? withoutPassword(config.databaseUrl) : join(config.dataDir, 'pgdata'),
      },
      migrations: {
        applied: migrations.applied.length,
        pending: migrations.pending.length,
        latest: latest ? migrationLabel(latest) : null,
        pendingNames: migrations.pending.map(migrationLabel),
      },
      jobs: migrations.pending.length === 0 ? await queueStats(database.db) : null,
      server:
        host.kind === 'server'
          ? { running: true, pid: host.pid, url: host.url, startedAt: host.startedAt }
          : { running: false, pid: null, url: null, startedAt: null },
    };
  },
  render(status) {
    const { migrations, server } = status;
    const pending = migrations.pending > 0 ? `, ${migrations.pending} pending (${migrations.pendingNames.join(', ')}): run rampart migrate` : ', none pending';
    return [
      `Rampart     ${status.version} (${status.env})`,
      `Data        ${status.dataDir}`,
      `Database    ${status.database.kind} at ${status.database.location}`,
      `Migrations  ${migrations.applied} applied${migrations.latest ? ` (latest ${migrations.latest})` : ''}${pending}`,
      `Jobs        ${status.jobs ? Object.entries(status.jobs).map(([state, count]) => `${count} ${state}`).join(', ') : 'unknown until migrated'}`,
      `Server      ${server.running ? `running, pid ${server.pid}, ${server.url}, since ${server.startedAt}` : 'not running on this data folder'}`,
    ].join('\n');
  },
};

