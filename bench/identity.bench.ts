import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import { envCount, envNumber, readLoadSettings } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { startChildServer } from './lib/child-server.js';
import type { ChildServer, EventLoopDelay } from './lib/child-server.js';
import { prepareDatabase } from './lib/database.js';
import { format, printTable } from './lib/format.js';
import { combineSamples, latencyPercentiles, runLoad } from './lib/load.js';
import type { LoadSample } from './lib/load.js';
import { runProbe } from './lib/probe.js';
import { refreshRequests } from './lib/refresh.js';
import type { FromArgon2, ToArgon2 } from './identity.server.js';

/**
 * Identity's hot paths, each against its baseline in the same run:
 *
 * 1. sign-in (POST /v1/auth/login) against raw argon2id verifications, same parameters, same
 *    concurrency, same UV_THREADPOOL_SIZE, each in a process of its own (goal: ratio above 0.9);
 * 2. GET /v1/me against bare Fastify returning the same JSON (goal: ratio above 0.5);
 * 3. refresh-token rotations per second;
 * 4. the latency of GET /health/live (and of GET /v1/me) under a light probe, without and during a
 *    sign-in storm: the event loop must stay free while argon2 hashes.
 */

const SERVER_ENTRY = fileURLToPath(new URL('./identity.server.ts', import.meta.url));
// Random, so the password policy's strength estimator accepts it; the same for every account.
const PASSWORD = `bench-${randomBytes(12).toString('base64url')}`;
const SIGN_IN_GOAL = 0.9;
const ME_GOAL = 0.5;

interface Settings {
  durationSeconds: number;
  rounds: number;
  warmupSeconds: number;
  /** Concurrent sign-ins, and concurrent verifications in the baseline. */
  signInConnections: number;
  /** Connections for GET /v1/me and for refreshes (one refresh-token chain each). */
  connections: number;
  accounts: number;
  probeRate: number;
  threadPoolSize: number;
}

interface Measurement {
  sample: LoadSample;
  cpuMicros: number;
}

function readSettings(): Settings {
  return {
    ...readLoadSettings(),
    signInConnections: envCount('BENCH_SIGNIN_CONNECTIONS', 8),
    accounts: envCount('BENCH_ACCOUNTS', 32),
    probeRate: envNumber('BENCH_PROBE_RATE', 100),
    // libuv's default; set for both sides explicitly so neither inherits something else.
    threadPoolSize: Math.round(envNumber('UV_THREADPOOL_SIZE', 4)),
  };
}

async function run(): Promise<void> {
  const settings = readSettings();
  const database = await prepareDatabase();
  const childEnv = { UV_THREADPOOL_SIZE: String(settings.threadPoolSize), ...database.env };
  let rampart: ChildServer | undefined;
  let bare: ChildServer | undefined;
  let baseline: Argon2Side | undefined;
  try {
    [rampart, baseline] = await Promise.all([startChildServer(SERVER_ENTRY, ['rampart'], childEnv), startArgon2Side(childEnv)]);
    const { params } = baseline;
    console.log(
      [
        `database:  ${database.label}`,
        `argon2id:  ${params.memoryKiB} KiB, t=${params.timeCost}, p=${params.parallelism} (both sides); UV_THREADPOOL_SIZE=${settings.threadPoolSize} (both sides)`,
        `load:      loopback; per side ${settings.warmupSeconds} s warm-up, then ${settings.durationSeconds} s measured in ${settings.rounds} round(s), ` +
          'order reversed every other round',
        `           sign-in: ${settings.signInConnections} connections over ${settings.accounts} accounts; /v1/me and refresh: ${settings.connections} connections; ` +
          `probes: ${settings.probeRate}/s each`,
      ].join('\n'),
    );
    // Starts the server's event-loop monitor, so each later read covers exactly one window.
    await rampart.eventLoopDelay();

    const emails = Array.from({ length: settings.accounts }, (_, i) => `bench-${i}@example.com`);
    await seedAccounts(rampart.url, emails);

    const signIn = await compareSignIn(settings, rampart, baseline, emails);
    const probes = await measureProbes(settings, rampart, emails);
    const me = await compareMe(settings, rampart, emails, async (json) => (bare = await startChildServer(SERVER_ENTRY, ['bare', json], childEnv)));
    const refresh = await measureRefresh(settings, rampart, emails);

    console.log('\n### Summary\n');
    printTable([
      ['measure', 'result', 'goal', ''],
      ['sign-in / argon2id verify', format(signIn.ratio, 2), `> ${SIGN_IN_GOAL}`, signIn.ratio > SIGN_IN_GOAL ? 'met' : 'MISSED'],
      ['  the same, by CPU per operation', format(signIn.cpuRatio, 2), `> ${SIGN_IN_GOAL}`, signIn.cpuRatio > SIGN_IN_GOAL ? 'met' : 'MISSED'],
      ['GET /v1/me / bare Fastify', format(me, 2), `> ${ME_GOAL}`, me > ME_GOAL ? 'met' : 'MISSED'],
      ['refresh rotations/s', format(refresh, 0), '', ''],
      ['/health/live p99, quiet → storm', `${format(probes.quiet, 2)} → ${format(probes.storm, 2)} ms`, '', ''],
    ]);
  } finally {
    await Promise.all([rampart?.stop(), bare?.stop(), baseline?.stop()]);
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Sign-in against raw argon2id verifications

async function compareSignIn(settings: Settings, rampart: ChildServer, baseline: Argon2Side, emails: string[]): Promise<{ ratio: number; cpuRatio: number }> {
  const { durationSeconds, rounds, warmupSeconds, signInConnections: connections } = settings;
  console.log(`\n### 1. Sign-in (POST /v1/auth/login, MFA off) against argon2id verify, ${connections} at a time\n`);
  const signInLoad = (seconds: number) =>
    runLoad({ url: rampart.url, durationSeconds: seconds, connections, requests: signInRequests(emails) });

  await signInLoad(warmupSeconds);
  await baseline.verify(warmupSeconds, connections);
  const sides = ['argon2id verify (raw)', 'sign-in (Rampart)'] as const;
  const results = new Map<(typeof sides)[number], Measurement[]>(sides.map((side) => [side, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const side of round % 2 === 1 ? [...sides] : [...sides].reverse()) {
      const measurement = side === 'sign-in (Rampart)' ? await measure(rampart, () => signInLoad(durationSeconds / rounds)) : await baseline.verify(durationSeconds / rounds, connections);
      results.get(side)!.push(measurement);
      console.log(`  round ${round}: ${side.padEnd(22)} ${format(rate(measurement.sample), 1)} /s`);
    }
  }
  const rows = summarize(results);
  const [raw, signIn] = [rows[0]!, rows[1]!];
  printRows(rows, raw, 'CPU ms/op', (cpuMicros) => format(cpuMicros / 1000, 2));
  const ratio = signIn.perSecond / raw.perSecond;
  const cpuRatio = raw.cpuPerOp / signIn.cpuPerOp;
  console.log(
    [
      `\nratio sign-in / argon2id verify: ${format(ratio, 2)} (goal > ${SIGN_IN_GOAL}: ${ratio > SIGN_IN_GOAL ? 'met' : 'MISSED'})`,
      `CPU ratio (verify CPU ms/op / sign-in CPU ms/op): ${format(cpuRatio, 2)}, the throughput ratio to expect while hashing keeps every core busy;`,
      'steadier than the req/s ratio on a shared machine, where other processes take cores from one side and not the other',
    ].join('\n'),
  );
  return { ratio, cpuRatio };
}

/** Cycles through the accounts, so no per-account limit is ever approached; every password is right. */
function signInRequests(emails: string[]): autocannon.Request[] {
  const bodies = emails.map((email) => JSON.stringify({ email, password: PASSWORD }));
  let next = 0;
  return [
    {
      method: 'POST',
      path: '/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. GET /v1/me against bare Fastify

async function compareMe(settings: Settings, rampart: ChildServer, emails: string[], startBare: (json: string) => Promise<ChildServer>): Promise<number> {
  const { durationSeconds, rounds, warmupSeconds, connections } = settings;
  console.log(`\n### 2. GET /v1/me against bare Fastify returning the same JSON, ${connections} connections\n`);
  // One session per connection's worth of tokens, spread over the accounts.
  const tokens = await Promise.all(Array.from({ length: connections }, (_, i) => signInOnce(rampart.url, emails[i % emails.length]!)));
  const json = await getMe(rampart.url, tokens[0]!.access_token);
  const bare = await startBare(json);
  console.log(`  response (${Buffer.byteLength(json)} bytes): ${json}`);
  const meLoad = (server: ChildServer, seconds: number) => runLoad({ url: server.url, durationSeconds: seconds, connections, requests: meRequests(tokens.map((t) => t.access_token)) });

  const sides = [
    ['bare Fastify', bare],
    ['Rampart', rampart],
  ] as const;
  for (const [, server] of sides) await meLoad(server, warmupSeconds);
  const results = new Map<string, Measurement[]>(sides.map(([label]) => [label, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const [label, server] of round % 2 === 1 ? [...sides] : [...sides].reverse()) {
      const measurement = await measure(server, () => meLoad(server, durationSeconds / rounds));
      results.get(label)!.push(measurement);
      console.log(`  round ${round}: ${label.padEnd(14)} ${format(rate(measurement.sample), 0)} req/s`);
    }
  }
  const rows = summarize(results);
  const [bareRow, rampartRow] = [rows[0]!, rows[1]!];
  printRows(rows, bareRow, 'CPU µs/req', (cpuMicros) => format(cpuMicros, 1));
  const ratio = rampartRow.perSecond / bareRow.perSecond;
  console.log(
    `\nratio Rampart / bare: ${format(ratio, 3)} (goal > ${ME_GOAL}: ${ratio > ME_GOAL ? 'met' : 'MISSED'}); ` +
      `CPU ratio (bare µs/req / Rampart µs/req): ${format(bareRow.cpuPerOp / rampartRow.cpuPerOp, 3)}`,
  );
  return ratio;
}

/** Spreads the requests over the sessions, hence over the accounts. */
function meRequests(accessTokens: string[]): autocannon.Request[] {
  const headers = accessTokens.map((token) => ({ authorization: `Bearer ${token}` }));
  let next = 0;
  return [{ method: 'GET', path: '/v1/me', setupRequest: (request) => ({ ...request, headers: headers[next++ % headers.length] }) }];
}

// ---------------------------------------------------------------------------------------------
// 3. Refresh-token rotations

async function measureRefresh(settings: Settings, rampart: ChildServer, emails: string[]): Promise<number> {
  const { durationSeconds, rounds, warmupSeconds, connections } = settings;
  console.log(`\n### 3. Refresh-token rotations (POST /v1/auth/token/refresh), ${connections} connections, one token chain each\n`);
  // Fresh chains for every run: autocannon drops the requests in flight when time is up, and the
  // server may have rotated their tokens, so a chain never outlives its run.
  const refreshLoad = async (seconds: number) => {
    const sessions = await Promise.all(Array.from({ length: connections }, (_, i) => signInOnce(rampart.url, emails[i % emails.length]!)));
    return runLoad({ url: rampart.url, durationSeconds: seconds, connections, requests: refreshRequests(sessions.map((s) => s.refresh_token)) });
  };
  await refreshLoad(warmupSeconds);
  const measurements: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    const measurement = await measure(rampart, () => refreshLoad(durationSeconds / rounds));
    measurements.push(measurement);
    console.log(`  round ${round}: ${format(rate(measurement.sample), 0)} rotations/s`);
  }
  const rows = summarize(new Map([['refresh (Rampart)', measurements]]));
  printRows(rows, null, 'CPU µs/req', (cpuMicros) => format(cpuMicros, 1));
  return rows[0]!.perSecond;
}

// ---------------------------------------------------------------------------------------------
// 4. Probes without and during a sign-in storm

interface ProbeWindow {
  health: LoadSample;
  me: LoadSample;
  loop: EventLoopDelay;
  storm?: LoadSample;
}

async function measureProbes(settings: Settings, rampart: ChildServer, emails: string[]): Promise<{ quiet: number; storm: number }> {
  const { durationSeconds, probeRate, signInConnections } = settings;
  console.log(
    `\n### 4. Probes: GET /health/live and GET /v1/me, ${probeRate}/s each (evenly spaced, open loop), ${durationSeconds} s ` +
      `without and during a sign-in storm (${signInConnections} connections)\n`,
  );
  const { access_token: accessToken } = await signInOnce(rampart.url, emails[0]!);
  const probeBoth = async (): Promise<Omit<ProbeWindow, 'storm'>> => {
    await rampart.eventLoopDelay();
    const [health, me] = await Promise.all([
      runProbe({ url: `${rampart.url}/health/live`, ratePerSecond: probeRate, durationSeconds }),
      runProbe({ url: `${rampart.url}/v1/me`, ratePerSecond: probeRate, durationSeconds, headers: { authorization: `Bearer ${accessToken}` } }),
    ]);
    return { health, me, loop: await rampart.eventLoopDelay() };
  };

  const quiet: ProbeWindow = await probeBoth();
  // The storm starts a second before the probes and ends a second after, so they see only its steady state.
  const storm = runLoad({ url: rampart.url, durationSeconds: durationSeconds + 2, connections: signInConnections, requests: signInRequests(emails) });
  await sleep(1000);
  const during: ProbeWindow = { ...(await probeBoth()), storm: await storm };

  const header = ['window', 'probe', 'p50 ms', 'p99 ms', 'max ms', 'loop delay p50 / p99 / max ms'];
  const rows = [
    ['quiet', quiet],
    ['sign-in storm', during],
  ] as const;
  printTable([
    header,
    ...rows.flatMap(([label, window]) =>
      (['health', 'me'] as const).map((probe) => {
        const { p50, p99 } = latencyPercentiles(window[probe].latenciesMs);
        const loop = `${format(window.loop.p50, 2)} / ${format(window.loop.p99, 2)} / ${format(window.loop.max, 2)}`;
        return [label, probe === 'health' ? 'GET /health/live' : 'GET /v1/me', format(p50, 2), format(p99, 2), format(Math.max(...window[probe].latenciesMs), 2), probe === 'health' ? loop : ''];
      }),
    ),
  ]);
  console.log(`\nthe storm: ${format(rate(during.storm!), 1)} sign-ins/s during the window`);
  console.log('loop delay = how late the server\'s event loop ran (perf_hooks, 1 ms resolution): near 0 means nothing blocked it');
  return { quiet: latencyPercentiles(quiet.health.latenciesMs).p99, storm: latencyPercentiles(during.health.latenciesMs).p99 };
}

// ---------------------------------------------------------------------------------------------
// Shared

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

async function measure(server: ChildServer, load: () => Promise<LoadSample>): Promise<Measurement> {
  const cpuBefore = await server.cpuMicros();
  const sample = await load();
  return { sample, cpuMicros: (await server.cpuMicros()) - cpuBefore };
}

function rate(sample: LoadSample): number {
  return sample.responses / sample.durationSeconds;
}

interface Row {
  label: string;
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerOp: number;
  cpuPercent: number;
}

function summarize(results: Map<string, Measurement[]>): Row[] {
  return [...results].map(([label, measurements]) => {
    const sample = combineSamples(measurements.map((m) => m.sample));
    const cpuMicros = measurements.reduce((sum, m) => sum + m.cpuMicros, 0);
    return {
      label,
      perSecond: rate(sample),
      ...latencyPercentiles(sample.latenciesMs),
      cpuPerOp: cpuMicros / sample.responses,
      cpuPercent: (cpuMicros / 1e6 / sample.durationSeconds) * 100,
    };
  });
}

function printRows(rows: Row[], baseline: Row | null, cpuHeader: string, cpu: (micros: number) => string): void {
  console.log();
  printTable([
    ['side', 'per s', 'p50 ms', 'p99 ms', ...(baseline ? ['ratio'] : []), 'CPU', cpuHeader],
    ...rows.map((row) => [
      row.label,
      format(row.perSecond, row.perSecond < 1000 ? 1 : 0),
      format(row.p50, 2),
      format(row.p99, 2),
      ...(baseline ? [format(row.perSecond / baseline.perSecond, 3)] : []),
      `${format(row.cpuPercent, 0)} %`,
      cpu(row.cpuPerOp),
    ]),
  ]);
  console.log('CPU = the process\'s CPU time (all threads, argon2\'s included) over wall time; 100 % is one core');
}

async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${new URL(url).pathname}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function signInOnce(baseUrl: string, email: string): Promise<TokenPair> {
  return postJson<TokenPair>(`${baseUrl}/v1/auth/login`, { email, password: PASSWORD });
}

async function getMe(baseUrl: string, accessToken: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET /v1/me: ${response.status} ${text}`);
  return text;
}

/** Through the API, as a user would: sign-up hashes with the configured parameters. */
async function seedAccounts(baseUrl: string, emails: string[]): Promise<void> {
  const queue = [...emails];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let email = queue.shift(); email !== undefined; email = queue.shift()) {
        await postJson(`${baseUrl}/v1/auth/signup`, { email, password: PASSWORD });
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The argon2 side

interface Argon2Side {
  params: Extract<FromArgon2, { type: 'ready' }>['params'];
  verify(seconds: number, concurrency: number): Promise<Measurement>;
  stop(): Promise<void>;
}

function startArgon2Side(env: NodeJS.ProcessEnv): Promise<Argon2Side> {
  const child = fork(SERVER_ENTRY, ['argon2'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the argon2 side exited (code ${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', (message: FromArgon2) => {
      if (message.type !== 'ready') return;
      child.off('exit', onExit);
      resolve({ params: message.params, verify: (seconds, concurrency) => askVerify(child, { type: 'verify', seconds, concurrency }), stop: () => stopProcess(child) });
    });
  });
}

function askVerify(child: ChildProcess, request: ToArgon2): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the argon2 side exited (code ${code}) during the run`));
    const onMessage = (message: FromArgon2) => {
      if (message.type !== 'verified') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve({ sample: { responses: message.count, durationSeconds: message.seconds, latenciesMs: message.latenciesMs }, cpuMicros: message.cpuMicros });
    };
    child.once('exit', onExit);
    child.on('message', onMessage);
    child.send(request);
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export default {
  description: 'sign-in, /v1/me, refresh rotations and /health/live under a sign-in storm, each against its baseline',
  run,
} satisfies Benchmark;
