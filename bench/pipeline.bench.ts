import { fileURLToPath } from 'node:url';
import { readLoadSettings } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { startChildServer } from './lib/child-server.js';
import { format, printTable } from './lib/format.js';
import type { ChildServer } from './lib/child-server.js';
import { combineSamples, latencyPercentiles, runLoad } from './lib/load.js';
import type { LoadSample } from './lib/load.js';

/**
 * The cost of Rampart's request pipeline (security headers, request id, rate limit, error
 * handling, logging with scrubbing) on a route that does nothing, against bare Fastify serving
 * the same route in the same run. Each side runs in its own process; see pipeline.server.ts.
 */

/** The sides, in the order of odd rounds; even rounds run them in reverse. */
export const VARIANTS = ['bare', 'rampart', 'rampart-null-stream', 'rampart-no-logs'] as const;
export type Variant = (typeof VARIANTS)[number];

const LABELS: Record<Variant, string> = {
  bare: 'bare Fastify',
  rampart: 'Rampart, info logs to /dev/null',
  'rampart-null-stream': 'Rampart, info logs to a null stream',
  'rampart-no-logs': 'Rampart, logging off (silent)',
};

const SERVER_ENTRY = fileURLToPath(new URL('./pipeline.server.ts', import.meta.url));
const PATH = '/bench/ping';

interface Measurement {
  sample: LoadSample;
  /** Server CPU time used during the measurement, in microseconds. */
  cpuMicros: number;
}

async function run(): Promise<void> {
  const { durationSeconds, rounds, warmupSeconds, connections } = readLoadSettings();
  const roundSeconds = durationSeconds / rounds;
  console.log(
    `GET ${PATH}, ${connections} connections, no pipelining; per side: ${warmupSeconds} s warm-up, then ` +
      `${durationSeconds} s measured in ${rounds} round(s) of ${roundSeconds} s, order reversed every other round`,
  );

  const servers = new Map<Variant, ChildServer>();
  try {
    for (const variant of VARIANTS) servers.set(variant, await startChildServer(SERVER_ENTRY, [variant]));
    // JIT compilation and first-request allocations must not be counted against whoever goes first.
    for (const variant of VARIANTS) await runLoad({ url: urlOf(servers, variant), durationSeconds: warmupSeconds, connections });

    const results = new Map<Variant, Measurement[]>(VARIANTS.map((variant) => [variant, []]));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [...VARIANTS] : [...VARIANTS].reverse();
      for (const variant of order) {
        const server = servers.get(variant)!;
        const cpuBefore = await server.cpuMicros();
        const sample = await runLoad({ url: urlOf(servers, variant), durationSeconds: roundSeconds, connections });
        const cpuMicros = (await server.cpuMicros()) - cpuBefore;
        results.get(variant)!.push({ sample, cpuMicros });
        console.log(`  round ${round}: ${LABELS[variant].padEnd(36)} ${format(sample.responses / sample.durationSeconds, 0)} req/s`);
      }
    }
    printSummary(results);
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
}

function urlOf(servers: Map<Variant, ChildServer>, variant: Variant): string {
  return `${servers.get(variant)!.url}${PATH}`;
}

function printSummary(results: Map<Variant, Measurement[]>): void {
  const rows = VARIANTS.map((variant) => {
    const measurements = results.get(variant)!;
    const sample = combineSamples(measurements.map((m) => m.sample));
    const cpuMicros = measurements.reduce((sum, m) => sum + m.cpuMicros, 0);
    return {
      variant,
      requestsPerSecond: sample.responses / sample.durationSeconds,
      ...latencyPercentiles(sample.latenciesMs),
      cpuPerRequest: cpuMicros / sample.responses,
      // Near 100 % the server was the bottleneck; well below, the load generator or the machine was.
      serverCpuPercent: (cpuMicros / 1e6 / sample.durationSeconds) * 100,
    };
  });
  const bare = rows.find((row) => row.variant === 'bare')!;
  const header = ['side', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'server CPU', 'CPU µs/req', 'vs bare', 'CPU ratio'];
  const table = rows.map((row) => [
    LABELS[row.variant],
    format(row.requestsPerSecond, 0),
    format(row.p50, 3),
    format(row.p99, 3),
    format(row.requestsPerSecond / bare.requestsPerSecond, 2),
    `${format(row.serverCpuPercent, 0)} %`,
    format(row.cpuPerRequest, 1),
    row === bare ? '' : `+${format(row.cpuPerRequest - bare.cpuPerRequest, 1)}`,
    format(bare.cpuPerRequest / row.cpuPerRequest, 2),
  ]);
  console.log();
  printTable([header, ...table]);
  console.log(
    [
      '',
      'ratio      = req/s of the side / req/s of bare Fastify (rampart / bare)',
      'server CPU = share of one core the server used; well below 100 % means the load generator or',
      '             another process, not the server, set the pace',
      'CPU µs/req = server CPU time (user + system) per response; vs bare = what the pipeline adds',
      'CPU ratio  = bare CPU µs/req / side CPU µs/req: the req/s ratio to expect with a core per server',
    ].join('\n'),
  );
}

export default {
  description: "the request pipeline's cost on a trivial route, against bare Fastify",
  run,
} satisfies Benchmark;
