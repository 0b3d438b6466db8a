import { fileURLToPath } from 'node:url';
import { envCount, readLoadSettings } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { startChildServer } from './lib/child-server.js';
import type { ChildServer } from './lib/child-server.js';
import { prepareDatabase } from './lib/database.js';
import type { BenchDatabase } from './lib/database.js';
import { format, printTable } from './lib/format.js';
import { combineSamples, latencyPercentiles, runLoad } from './lib/load.js';
import type { LoadSample } from './lib/load.js';
import type { TenancyFixture } from './tenancy.server.js';

/**
 * The cost of authorization on an org-scoped read: Rampart's GET /v1/orgs/:org/members as a
 * signed-in member (authentication, session check, then in one tenant transaction the membership and
 * MFA-policy check, authorize and the read) against the same read, same authentication, same org and same response, without the
 * membership and permission checks (GET /bench/orgs/:org/members, see tenancy.server.ts).
 * Each side is its own server process on its own database, seeded alike. Goal: ratio above 0.8.
 */

const SERVER_ENTRY = fileURLToPath(new URL('./tenancy.server.ts', import.meta.url));
const GOAL = 0.8;

interface Side {
  label: string;
  path: (org: string) => string;
}

const SIDES: readonly Side[] = [
  { label: 'read without authorization', path: (org) => `/bench/orgs/${org}/members` },
  { label: 'GET /v1/orgs/:org/members (Rampart)', path: (org) => `/v1/orgs/${org}/members` },
];

interface Running {
  side: Side;
  server: ChildServer;
  fixture: TenancyFixture;
  database: BenchDatabase;
}

interface Measurement {
  sample: LoadSample;
  cpuMicros: number;
}

async function run(): Promise<void> {
  const { durationSeconds, rounds, warmupSeconds, connections } = readLoadSettings();
  const members = envCount('BENCH_MEMBERS', 10, 2);

  const running: Running[] = [];
  try {
    for (const side of SIDES) {
      const database = await prepareDatabase();
      const entry: Partial<Running> & { database: BenchDatabase } = { database };
      try {
        entry.server = await startChildServer(SERVER_ENTRY, [String(members)], database.env);
      } catch (error) {
        await database.drop();
        throw error;
      }
      running.push({ side, server: entry.server, database, fixture: await getJson<TenancyFixture>(`${entry.server.url}/bench/fixture`) });
    }
    console.log(
      [
        `database:  ${running[0]!.database.label}, one per side`,
        `org:       ${members} members (1 owner, the rest admins and members); the caller is a member (role member, MFA policy none)`,
        `load:      loopback, ${connections} connections; per side ${warmupSeconds} s warm-up, then ${durationSeconds} s measured in ${rounds} round(s), ` +
          'order reversed every other round',
      ].join('\n'),
    );
    await checkSameResponse(running[1]!);

    const load = (entry: Running, seconds: number) =>
      runLoad({
        url: `${entry.server.url}${entry.side.path(entry.fixture.org)}`,
        durationSeconds: seconds,
        connections,
        requests: [{ method: 'GET', path: entry.side.path(entry.fixture.org), headers: { authorization: `Bearer ${entry.fixture.accessToken}` } }],
      });

    console.log();
    for (const entry of running) await load(entry, warmupSeconds);
    const results = new Map<string, Measurement[]>(running.map((entry) => [entry.side.label, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const entry of round % 2 === 1 ? [...running] : [...running].reverse()) {
        const cpuBefore = await entry.server.cpuMicros();
        const sample = await load(entry, durationSeconds / rounds);
        const measurement = { sample, cpuMicros: (await entry.server.cpuMicros()) - cpuBefore };
        results.get(entry.side.label)!.push(measurement);
        console.log(`  round ${round}: ${entry.side.label.padEnd(36)} ${format(rate(sample), 0)} req/s, ${format(measurement.cpuMicros / sample.responses, 1)} CPU µs/req`);
      }
    }

    const rows = [...results].map(([label, measurements]) => {
      const sample = combineSamples(measurements.map((m) => m.sample));
      const cpuMicros = measurements.reduce((sum, m) => sum + m.cpuMicros, 0);
      return { label, perSecond: rate(sample), ...latencyPercentiles(sample.latenciesMs), cpuPerReq: cpuMicros / sample.responses, cpuPercent: (cpuMicros / 1e6 / sample.durationSeconds) * 100 };
    });
    const [bare, full] = [rows[0]!, rows[1]!];
    console.log();
    printTable([
      ['side', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'server CPU', 'CPU µs/req', 'vs without'],
      ...rows.map((row) => [
        row.label,
        format(row.perSecond, 0),
        format(row.p50, 3),
        format(row.p99, 3),
        format(row.perSecond / bare.perSecond, 2),
        `${format(row.cpuPercent, 0)} %`,
        format(row.cpuPerReq, 1),
        row === bare ? '' : `+${format(row.cpuPerReq - bare.cpuPerReq, 1)}`,
      ]),
    ]);
    const ratio = full.perSecond / bare.perSecond;
    const cpuRatio = bare.cpuPerReq / full.cpuPerReq;
    console.log(
      [
        '\nserver CPU = the server process\'s CPU time over wall time (100 % is one core)',
        `ratio with / without authorization: ${format(ratio, 2)} (goal > ${GOAL}: ${ratio > GOAL ? 'met' : 'MISSED'})`,
        `CPU ratio (without µs/req / with µs/req): ${format(cpuRatio, 2)} (goal > ${GOAL}: ${cpuRatio > GOAL ? 'met' : 'MISSED'}); ` +
          'the ratio to expect when the server has a core of its own, steadier on a shared machine',
      ].join('\n'),
    );
  } finally {
    await Promise.all(running.map((entry) => entry.server.stop()));
    await Promise.all(running.map((entry) => entry.database.drop()));
  }
}

/** Both routes must answer the same body for the same caller, or the comparison means nothing. */
async function checkSameResponse(entry: Running): Promise<void> {
  const [withChecks, without] = await Promise.all(
    SIDES.map(async (side) => {
      const response = await fetch(`${entry.server.url}${side.path(entry.fixture.org)}`, { headers: { authorization: `Bearer ${entry.fixture.accessToken}` } });
      const text = await response.text();
      if (!response.ok) throw new Error(`${side.path(entry.fixture.org)}: ${response.status} ${text}`);
      return text;
    }),
  );
  if (withChecks === undefined || withChecks !== without) throw new Error(`the two routes answer differently:\n${withChecks}\n${without}`);
  console.log(`response:  the same ${Buffer.byteLength(withChecks)} bytes of JSON from both routes (checked on one server)`);
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${new URL(url).pathname}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function rate(sample: LoadSample): number {
  return sample.responses / sample.durationSeconds;
}

export default {
  description: 'authorization overhead: GET /v1/orgs/:org/members against the same read without membership and permission checks',
  run,
} satisfies Benchmark;
