import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS } from '../../src/platform/db/index.js';
import { ensureWebBuild } from '../browser/web-build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** PGlite: a dumped, migrated data folder each test file loads its own copy of. */
    pgliteDumpPath: string | null;
    /** PostgreSQL: a migrated database each test file clones with CREATE DATABASE ... TEMPLATE. */
    templateDatabase: string | null;
  }
}

/** Migrates once per run; every test file then starts from a copy (see helpers/database.ts). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The browser tests (test/browser) load the built dashboard from dist/web.
  await ensureWebBuild();
  const url = process.env.DATABASE_URL;
  if (url) {
    const name = `rampart_tpl_${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `create database ${name}`);
    const database = openPostgres(withDatabase(url, name), 2);
    await migrate(database.db);
    await database.close();
    project.provide('templateDatabase', name);
    project.provide('pgliteDumpPath', null);
    return async () => {
      await adminQuery(url, `drop database if exists ${name} with (force)`);
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'rampart-test-'));
  const pglite = await PGlite.create({ parsers: PGLITE_PARSERS });
  const database = fromPglite(pglite);
  await migrate(database.db);
  const dump = await pglite.dumpDataDir('none');
  const path = join(dir, 'migrated.tar');
  await writeFile(path, Buffer.from(await dump.arrayBuffer()));
  await database.close();
  project.provide('pgliteDumpPath', path);
  project.provide('templateDatabase', null);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
