import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Config, TlsConfig } from './config.js';
import type { Database } from './platform/db/index.js';

/** The TLS files are missing, unreadable or not a matching PEM certificate and key. */
export class TlsFilesError extends Error {
  override readonly name = 'TlsFilesError';
}

/** PostgreSQL at DATABASE_URL does not answer or refuses us; the message never holds the password. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Reads and parses the certificate and key before anything else happens, so a typo in a path fails
 * in a second instead of after the database has been opened and migrated.
 */
export async function checkTlsFiles(tls: TlsConfig | null): Promise<void> {
  if (!tls) return;
  const cert = await readTlsFile('RAMPART_TLS_CERT', tls.certFile);
  const key = await readTlsFile('RAMPART_TLS_KEY', tls.keyFile);
  try {
    createSecureContext({ cert, key, minVersion: tls.minVersion });
  } catch (error) {
    throw new TlsFilesError(
      `RAMPART_TLS_CERT and RAMPART_TLS_KEY must be a PEM certificate and its private key (${(error as Error).message})`,
    );
  }
}

async function readTlsFile(variable: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new TlsFilesError(`Cannot read ${variable} file ${path} (${code}); point ${variable} at a file this user can read`);
  }
}

/**
 * The PostgreSQL pool connects lazily; asking once up front turns a wrong DATABASE_URL into one
 * line that names it, instead of a driver error from deep inside the first migration.
 */
export async function checkDatabaseReachable(database: Database, config: Pick<Config, 'databaseUrl'>): Promise<void> {
  if (database.kind !== 'postgres' || !config.databaseUrl) return;
  try {
    await database.ping(CONNECT_TIMEOUT_MS);
  } catch (error) {
    throw new DatabaseUnreachableError(`Cannot use PostgreSQL at DATABASE_URL (${withoutPassword(config.databaseUrl)}): ${reason(error)}`);
  }
}

/** The URL as an operator may see it in a terminal or a log: everything but the password. */
export function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '';
  // libpq also takes the password as a query parameter.
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', 'redacted');
  return parsed.toString();
}

function reason(error: unknown): string {
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  const { code, message } = first as NodeJS.ErrnoException;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused; is PostgreSQL running on that host and port?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `the host cannot be reached (${code})`;
    default:
      // PostgreSQL's own messages (wrong password, unknown database) name the user or database, never the password.
      return code ? `${message} (${code})` : message || 'no answer';
  }
}
