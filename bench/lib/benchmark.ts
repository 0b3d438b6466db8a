/** What every `bench/*.bench.ts` exports as its default: `bench/run.ts` finds and runs it. */
export interface Benchmark {
  /** One line, printed above the results. */
  description: string;
  run(): Promise<void>;
}

/** A positive number from the environment, or the fallback; a typo must not silently run a 0 s benchmark. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
