import { Agent, get } from 'node:http';
import type { LoadSample } from './load.js';

export interface ProbeOptions {
  url: string;
  ratePerSecond: number;
  durationSeconds: number;
  headers?: Record<string, string>;
}

/**
 * A light, evenly spaced probe: one GET every 1/rate s whether or not the previous one has been
 * answered (open loop), each timed on its own. autocannon's rate limit instead sends a second's
 * requests back to back and then pauses, so it would sample only the start of every second, and a
 * closed loop would send fewer probes exactly when the server is slow.
 */
export function runProbe({ url, ratePerSecond, durationSeconds, headers = {} }: ProbeOptions): Promise<LoadSample> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latenciesMs: number[] = [];
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();

  const probeOnce = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const request = get(url, { agent, headers }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) latenciesMs.push(performance.now() - sent);
          else failures.push(`status ${response.statusCode}`);
          resolve();
        });
      });
      request.on('error', (error) => {
        failures.push(error.message);
        resolve();
      });
    });

  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (performance.now() - start >= durationSeconds * 1000) {
        clearInterval(timer);
        void Promise.all(inFlight).then(() => {
          agent.destroy();
          if (failures.length > 0) return reject(new Error(`${url}: ${failures.length} failed probes (first: ${failures[0]}); the measurement is invalid`));
          resolve({ responses: latenciesMs.length, durationSeconds: (performance.now() - start) / 1000, latenciesMs });
        });
        return;
      }
      const pending = probeOnce();
      inFlight.add(pending);
      void pending.then(() => inFlight.delete(pending));
    }, 1000 / ratePerSecond);
  });
}
