import { parseArgs } from 'node:util';
import { UsageError } from './verb.js';
import type { Verb, VerbInput } from './verb.js';

/** Flags every verb accepts; the CLI takes them out before the verb parses its own. */
export interface GlobalFlags {
  json: boolean;
  help: boolean;
}

/** Splits `rampart [--json] [--help] <verb> [verb arguments]`; global flags may come anywhere before `--`. */
export function splitGlobalFlags(argv: readonly string[]): { flags: GlobalFlags; rest: string[] } {
  const flags: GlobalFlags = { json: false, help: false };
  const rest: string[] = [];
  let literal = false;
  for (const arg of argv) {
    if (!literal && arg === '--json') flags.json = true;
    else if (!literal && (arg === '--help' || arg === '-h')) flags.help = true;
    else {
      if (arg === '--') literal = true;
      rest.push(arg);
    }
  }
  return { flags, rest };
}

/** Parses a verb's own arguments strictly: an unknown option is a usage error, not ignored. */
export function parseVerbInput(verb: Verb, argv: readonly string[]): VerbInput {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: verb.options ?? {}, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's messages go on about positionals; the first sentence is the useful part.
    const first = (error as Error).message.split(/\.\s/)[0];
    throw new UsageError(`${verb.name}: ${first}; see rampart help ${verb.name}`);
  }
  const max = verb.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`${verb.name}: unexpected argument "${parsed.positionals[max]}"; see rampart help ${verb.name}`);
  }
  const options: VerbInput['options'] = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'string' || typeof value === 'boolean') options[name] = value;
  }
  return { options, positionals: parsed.positionals };
}

/** Reads a whole-number option, with a message naming the option when it is not one. */
export function readIntegerOption(input: VerbInput, name: string, fallback: number, min: number, max: number): number {
  const raw = input.options[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${String(raw)}"`);
  }
  return value;
}
