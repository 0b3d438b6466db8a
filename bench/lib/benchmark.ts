/** What every `bench/*.bench.ts` exports as its default: `bench/run.ts` finds and runs it. */
export interface Benchmark {
  /** One line, printed above the results. */
  description: string;
  run(): Promise<void>;
}

/** A positive number from the environment, or the fallback; a typo must not silently run a 0 s benchmark. */
/** The load settings every benchmark shares (BENCH_DURATION, BENCH_ROUNDS, BENCH_WARMUP, BENCH_CONNECTIONS). */
export function readLoadSettings(): { durationSeconds: number; rounds: number; warmupSeconds: number; connections: number } {
  return {
    durationSeconds: envNumber('BENCH_DURATION', 10),
    rounds: envCount('BENCH_ROUNDS', 2),
    warmupSeconds: envNumber('BENCH_WARMUP', 3),
    connections: envCount('BENCH_CONNECTIONS', 10),
  };
}

/** A whole number of at least `minimum` from the environment. */
export function envCount(name: string, fallback: number, minimum = 1): number {
  return Math.max(minimum, Math.round(envNumber(name, fallback)));
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
