import { ConfigError } from './config.js';
import { RootKeyError } from './crypto/root-key.js';
import { DataDirError } from './platform/data-dir.js';
import { DatabaseUnreachableError, TlsFilesError } from './preflight.js';

/** The server cannot listen where it is configured to; the message names the variable to change. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

const OPERATOR_ERRORS = [ConfigError, DataDirError, RootKeyError, TlsFilesError, DatabaseUnreachableError, ListenError];

/**
 * One clear line for the failures an operator can fix (configuration, folders, keys, ports, the
 * database); null for anything else, which is a bug and deserves its stack. The server's start-up
 * and every CLI verb describe failures through this one function.
 */
export function describeOperatorError(error: unknown): string | null {
  // These messages are written by Rampart to be shown, and hold no secret (DATABASE_URL appears
  // without its password); scrubbing would only mangle them (user@host reads as an email).
  return OPERATOR_ERRORS.some((type) => error instanceof type) ? (error as Error).message : null;
}

/** Turns what `listen` throws for a bad host or port into a ListenError; anything else is returned as is. */
export function toListenError(error: unknown, host: string, port: number): unknown {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return new ListenError(`Port ${port} on ${host} is already in use; stop the other process or set RAMPART_PORT`, { cause: error });
    case 'EACCES':
      return new ListenError(`Not allowed to listen on port ${port}; choose a port above 1023 with RAMPART_PORT`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new ListenError(`Address ${host} is not on this machine; set RAMPART_HOST`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ListenError(`Host name ${host} does not resolve; check RAMPART_HOST`, { cause: error });
    default:
      return error;
  }
}
