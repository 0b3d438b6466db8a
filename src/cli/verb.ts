import type { Config } from '../config.js';
import type { Database } from '../platform/db/index.js';

/** What a verb returns: plain JSON, so a result that crossed the admin socket renders the same. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface VerbOption {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown by `rampart help <verb>`; for a string option, name the value: "--limit <n>  ..." */
  description: string;
}

/** A verb's arguments after parsing; the same argv is parsed the same way in the CLI and the server. */
export interface VerbInput {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface ProgressBar {
  update(value: number, detail?: string): void;
  stop(): void;
}

/** How a verb tells the operator what it is doing while it works. */
export interface Reporter {
  /** A bar over `total` steps; drawn only on a terminal, never in --json output. */
  progress(label: string, total: number): ProgressBar;
  /** A line for a person (a step done, a warning); not part of --json output. */
  note(message: string): void;
}

/** Where a database verb runs: inside the running server, or in the CLI on a database it opened. */
export type VerbHost = { kind: 'server'; pid: number; url: string; startedAt: string } | { kind: 'direct' };

export interface LocalContext {
  input: VerbInput;
  report: Reporter;
  verbs: readonly Verb[];
}

export interface DatabaseContext extends LocalContext {
  config: Config;
  database: Database;
  rootKey: Buffer;
  host: VerbHost;
  /** Aborted when the operator goes away (Ctrl-C on a verb running in the server). */
  signal: AbortSignal;
}

interface VerbBase {
  name: string;
  /** One line for the verb list. */
  summary: string;
  /** The synopsis, e.g. "rampart mail [--limit <n>]". */
  usage: string;
  options?: Record<string, VerbOption>;
  /** How many positional arguments it takes (default none). */
  maxPositionals?: number;
}

/** A verb that needs neither configuration nor database (help). */
export interface LocalVerb<R extends Json = Json> extends VerbBase {
  access: 'local';
  run(context: LocalContext): Promise<R>;
  render(result: R): string;
}

/**
 * A verb that works on the database. `access` says where it may run:
 * - `shared`: through the running server when there is one, else on a directly opened database;
 * - `exclusive`: only on a directly opened database, so never while a server runs (restores);
 * - `server`: only inside a running server (verbs that act on the server's own state).
 */
export interface DatabaseVerb<R extends Json = Json> extends VerbBase {
  access: 'shared' | 'exclusive' | 'server';
  /** False only for verbs that must work while migrations are pending (migrate, status). */
  needsCurrentSchema: boolean;
  run(context: DatabaseContext): Promise<R>;
  render(result: R): string;
  /**
   * Arguments for which the verb needs no database (a check against files the operator gives):
   * it then runs in the CLI alone, so it works where no Rampart database is reachable.
   */
  offline?: { when(input: VerbInput): boolean; run(context: LocalContext): Promise<R> };
}

export type Verb = LocalVerb | DatabaseVerb;

/** A failure the operator can fix; its message is the one line they see. */
export class VerbError extends Error {
  override readonly name: string = 'VerbError';
}

/** The command line itself is wrong (unknown verb or option); exits 2. */
export class UsageError extends VerbError {
  override readonly name = 'UsageError';
}
