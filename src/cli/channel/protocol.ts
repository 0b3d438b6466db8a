import { join } from 'node:path';
import type { VerbEvent } from '../events.js';

/**
 * The admin channel: HTTP/1.1 over a Unix socket in the data folder, reachable only by the user
 * that runs the server (the socket is 0600 inside a 0700 folder).
 *
 *   GET  /v1/server          -> 200 ServerInfo (JSON); the CLI's "is a server running?"
 *   POST /v1/verbs/<name>    body {"argv": [...]} -> NDJSON stream of VerbEvent, ending with
 *                            exactly one `result` or `error` event (also for 4xx answers)
 */
export const SERVER_INFO_PATH = '/v1/server';
export const VERB_PATH_PREFIX = '/v1/verbs/';
export const NDJSON = 'application/x-ndjson';
/** Verb arguments are a handful of short strings; anything bigger is not a CLI talking. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface ServerInfo {
  pid: number;
  version: string;
  env: string;
  url: string;
  startedAt: string;
}

export interface VerbRequest {
  argv: string[];
}

/** Where the server listens and the CLI looks: one per data folder, like the database lock. */
export function adminSocketPath(dataDir: string): string {
  return join(dataDir, 'admin.sock');
}

export function encodeEvent(event: VerbEvent): string {
  return `${JSON.stringify(event)}\n`;
}

const EVENT_TYPES = new Set<VerbEvent['type']>(['progress-start', 'progress', 'progress-stop', 'note', 'result', 'error']);

/** Parses one NDJSON line from the server; null for anything that is not an event we know. */
export function decodeEvent(line: string): VerbEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && EVENT_TYPES.has(type as VerbEvent['type']) ? (value as VerbEvent) : null;
}

export function isVerbRequest(value: unknown): value is VerbRequest {
  const argv = (value as { argv?: unknown } | null)?.argv;
  return Array.isArray(argv) && argv.every((arg) => typeof arg === 'string');
}
