import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The database a benchmark's server process runs on, as the benchmark prepared it. */
export interface BenchDatabase {
  label: string;
  /** Added to the server process's environment: BENCH_DATABASE_URL when on PostgreSQL. */
  env: NodeJS.ProcessEnv;
  drop(): Promise<void>;
}

/**
 * In-memory PGlite by default (the server opens it; nothing to prepare); with DATABASE_URL, a fresh
 * PostgreSQL database on that server, which the server migrates and this drops at the end.
 */
export async function prepareDatabase(): Promise<BenchDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) return { label: 'PGlite in memory (embedded, one connection; DATABASE_URL not set)', env: {}, drop: async () => undefined };
  const name = `rampart_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(base, `create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  // Never the password: host, port and the database's name are what identify the run.
  const where = `${url.hostname || 'local socket'}${url.port ? `:${url.port}` : ''}/${name}`;
  return {
    label: `PostgreSQL ${where} (fresh, migrated by the server, dropped after the run; pool of 10 connections)`,
    env: { BENCH_DATABASE_URL: url.toString() },
    drop: () => adminQuery(base, `drop database if exists ${name} with (force)`),
  };
}

async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
