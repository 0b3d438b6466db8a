/** Thrown when `limit` different keys already have a run in flight. */
export class TooManyRuns extends Error {
  override readonly name = 'TooManyRuns';
}

/**
 * Verifying a chain reads every entry of it, so a caller repeating GET /audit/verify could keep a
 * core and the database busy. Concurrent requests for the same chain share one run (they would
 * get the same answer), and at most `limit` chains are verified at once; beyond that the caller
 * is told to retry.
 */
export class SingleFlight<Result> {
  private readonly running = new Map<string, Promise<Result>>();

  constructor(private readonly limit: number) {}

  run(key: string, work: () => Promise<Result>): Promise<Result> {
    const shared = this.running.get(key);
    if (shared) return shared;
    if (this.running.size >= this.limit) return Promise.reject(new TooManyRuns(`${this.limit} runs are in flight`));
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
