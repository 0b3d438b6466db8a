import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { RestoreTarget } from './restore-backup.js';

/** A throwaway database a drill restores into, and how to get rid of it. */
export interface ScratchTarget {
  into: RestoreTarget;
  drop(): Promise<void>;
}

/**
 * A new database on the configured PostgreSQL server (the drill then measures the engine
 * production uses), or an embedded data folder under the system's temporary folder.
 */
export async function createScratchTarget(databaseUrl: string | null): Promise<ScratchTarget> {
  if (!databaseUrl) {
    const dataDir = await mkdtemp(join(tmpdir(), 'rampart-drill-'));
    return { into: { kind: 'pglite', dataDir }, drop: () => rm(dataDir, { recursive: true, force: true }) };
  }
  // The name is ours (hex only), so interpolating it into DDL is safe; DDL takes no parameters.
  const name = `rampart_drill_${randomBytes(6).toString('hex')}`;
  const filesDir = await mkdtemp(join(tmpdir(), 'rampart-drill-files-'));
  await adminStatement(databaseUrl, `create database ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    into: { kind: 'postgres', url: url.toString(), filesDir },
    async drop() {
      await rm(filesDir, { recursive: true, force: true });
      await adminStatement(databaseUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

async function adminStatement(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
