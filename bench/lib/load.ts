import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  durationSeconds: number;
  connections: number;
  /**
   * What to send, when not a plain GET of `url`: autocannon's request list (method, headers, body,
   * `setupRequest` to vary each request, `onResponse` to read each answer).
   */
  requests?: autocannon.Request[];
  /** Requests per second over all connections; without it, as fast as the server answers. */
  overallRate?: number;
}

/** One measurement: how many responses, over how long, and each one's latency. */
export interface LoadSample {
  responses: number;
  durationSeconds: number;
  latenciesMs: number[];
}

/**
 * Drives `url` with autocannon and refuses any failure: a 429 or a 500 is answered faster than a
 * real response, so a run with any of them would report a flattering, meaningless number.
 */
export function runLoad({ url, durationSeconds, connections, requests, overallRate }: LoadOptions): Promise<LoadSample> {
  // autocannon's own latency histogram has 1 ms resolution, too coarse for sub-millisecond
  // responses; its per-response event carries the time as a float, so we keep every one.
  const latenciesMs: number[] = [];
  return new Promise((resolve, reject) => {
    const options = { url, duration: durationSeconds, connections, pipelining: 1, ...(requests ? { requests } : {}), ...(overallRate ? { overallRate } : {}) };
    const instance = autocannon(options, (error: unknown, result) => {
      if (error) return reject(error instanceof Error ? error : new Error(String(error)));
      const failures = result.errors + result.timeouts + result.non2xx + result.mismatches;
      if (failures > 0) {
        const statuses = JSON.stringify(result.statusCodeStats ?? {});
        return reject(
          new Error(
            `${url}: ${result.non2xx} non-2xx responses (by status: ${statuses}), ${result.errors} errors, ` +
              `${result.timeouts} timeouts, ${result.mismatches} mismatches; the measurement is invalid`,
          ),
        );
      }
      resolve({ responses: latenciesMs.length, durationSeconds: result.duration, latenciesMs });
    });
    instance.on('response', (_client, _statusCode, _bytes, responseTimeMs) => {
      latenciesMs.push(responseTimeMs);
    });
  });
}

/** Combines rounds: total responses over total time, and percentiles over every response. */
export function combineSamples(samples: LoadSample[]): LoadSample {
  return {
    responses: samples.reduce((sum, sample) => sum + sample.responses, 0),
    durationSeconds: samples.reduce((sum, sample) => sum + sample.durationSeconds, 0),
    latenciesMs: samples.flatMap((sample) => sample.latenciesMs),
  };
}

/** Nearest-rank p50 and p99 of unsorted latencies, in milliseconds. */
export function latencyPercentiles(latenciesMs: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return { p50: at(50), p99: at(99) };
}
