/**
 * `npm run bench:load` (issue 9): a mixed workload against two Rampart processes sharing one
 * PostgreSQL database and one Redis, on loopback, for a bounded time (60 s; `-- --duration 300`
 * for a longer manual run). Per route: requests/s, p50/p99 latency, non-2xx. Then two checks that
 * only a shared deployment can pass: a session revoked through one node is refused by the other
 * on its next request, and the sign-in rate limit is one budget across both nodes.
 *
 * Needs DATABASE_URL (an admin URL: a fresh database is created and dropped) and REDIS_URL.
 * Measures and prints; asserts nothing about speed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from '../src/platform/paths.js';
import { prepareDatabase } from './lib/database.js';
import { describeMachine } from './lib/machine.js';
import { refreshRequests } from './lib/refresh.js';

const PASSWORD = 'vivid otter marble lantern';
/** Per address and minute: load traffic spreads over many forwarded addresses and never nears it. */
const AUTH_LIMIT = 600;
const ANCHORS = [
  'Keycloak (published sizing): 15 password sign-ins/s and 120 refreshes/s per vCPU',
  'Zitadel (published benchmark): 39 password sign-ins/s',
  'Goals on 2 cores: sign-in bound by argon2id, refreshes > 1,000/s, authenticated reads > 5,000/s, no non-2xx but intended 429s',
];

interface Node {
  url: string;
  child: ChildProcess;
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

async function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url) return { url, child };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`a node did not start: ${out.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function post<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: T }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : null) as T };
}

async function signIn(base: string, email: string): Promise<{ access_token: string; refresh_token: string }> {
  const answer = await post<{ access_token: string; refresh_token: string }>(`${base}/v1/auth/login`, { email, password: PASSWORD }, { 'x-forwarded-for': randomAddress() });
  if (answer.status !== 200) throw new Error(`sign-in answered ${answer.status}`);
  return answer.json;
}

/** An address from the documentation range, only ever written into a header (no traffic goes there). */
function randomAddress(): string {
  return `198.51.100.${randomInt(1, 255)}`;
}

interface RouteLoad {
  label: string;
  node: Node;
  connections: number;
  requests: autocannon.Request[];
}

interface RouteResult {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statuses: string;
}

function drive(load: RouteLoad, seconds: number): Promise<RouteResult> {
  return new Promise((resolve, reject) => {
    autocannon({ url: load.node.url, duration: seconds, connections: load.connections, pipelining: 1, requests: load.requests }, (error: unknown, result) => {
      if (error) return reject(error instanceof Error ? error : new Error(String(error)));
      resolve({
        label: load.label,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        statuses: JSON.stringify(Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, (stats as { count: number }).count]))),
      });
    });
  });
}

function rotating(method: string, path: string, headers: Array<Record<string, string>>, body?: () => string): autocannon.Request[] {
  let next = 0;
  return [{ method: method as 'GET', path, setupRequest: (request) => ({ ...request, headers: headers[next++ % headers.length]!, ...(body ? { body: body() } : {}) }) }];
}

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL;
  if (!process.env.DATABASE_URL || !redisUrl) throw new Error('bench:load needs DATABASE_URL (an admin URL) and REDIS_URL');
  const seconds = argument('duration', 60);
  console.log(describeMachine());
  const database = await prepareDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'rampart-load-'));
  const env = {
    // Set: DATABASE_URL is, so prepareDatabase made a PostgreSQL database.
    DATABASE_URL: database.env.BENCH_DATABASE_URL!,
    REDIS_URL: redisUrl,
    RAMPART_DATA_DIR: dataDir,
    RAMPART_ROOT_KEY: randomBytes(32).toString('base64'),
    RAMPART_PORT: '0',
    RAMPART_LOG_LEVEL: 'warn',
    RAMPART_TRUSTED_PROXIES: '127.0.0.1',
    RAMPART_RATE_LIMIT_PER_IP: '1000000',
    RAMPART_RATE_LIMIT_PER_ACCOUNT: '1000000',
    RAMPART_RATE_LIMIT_AUTH_PER_IP: String(AUTH_LIMIT),
    RAMPART_BACKUP_SCHEDULE: 'off',
    RAMPART_BACKUP_DRILL_SCHEDULE: 'off',
  };
  const nodes: Node[] = [];
  try {
    // The first node migrates; the second starts on the migrated database.
    nodes.push(await startNode(env));
    nodes.push(await startNode(env));
    const [a, b] = nodes as [Node, Node];
    console.log(`\nnodes: ${a.url} and ${b.url}, one PostgreSQL database, one Redis; ${seconds} s of mixed load\n`);

    const emails = Array.from({ length: 16 }, (_, i) => `load.${i}.${randomBytes(4).toString('hex')}@customer.test`);
    for (const email of emails) await post(`${a.url}/v1/auth/signup`, { email, password: PASSWORD }, { 'x-forwarded-for': randomAddress() });
    const sessions = await Promise.all(emails.map((email) => signIn(a.url, email)));
    const owner = sessions[0]!.access_token;
    const org = (await post<{ id: string }>(`${a.url}/v1/orgs`, { name: 'Load Test' }, { authorization: `Bearer ${owner}` })).json.id;
    const key = (await post<{ key: string }>(`${a.url}/v1/orgs/${org}/api-keys`, { name: 'load', scopes: ['audit:write', 'records:read', 'records:write'] }, { authorization: `Bearer ${owner}` })).json.key;
    await fetch(`${a.url}/v1/orgs/${org}/records/people/alice`, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ data: { name: 'Alice' } }) });
    const bearers = sessions.map((session) => ({ authorization: `Bearer ${session.access_token}` }));
    const keyHeaders = [{ authorization: `Bearer ${key}` }];
    const keyJsonHeaders = [{ ...keyHeaders[0]!, 'content-type': 'application/json' }];
    const refreshChains = await Promise.all(Array.from({ length: 4 }, (_, i) => signIn(b.url, emails[i]!)));
    let write = 0;

    const loads: RouteLoad[] = [
      {
        label: 'POST /v1/auth/login (password sign-in)',
        node: a,
        connections: 4,
        requests: [
          {
            method: 'POST',
            path: '/v1/auth/login',
            setupRequest: (request) => ({
              ...request,
              headers: { 'content-type': 'application/json', 'x-forwarded-for': randomAddress() },
              body: JSON.stringify({ email: emails[randomInt(emails.length)], password: PASSWORD }),
            }),
          },
        ],
      },
      { label: 'POST /v1/auth/token/refresh', node: b, connections: 4, requests: refreshRequests(refreshChains.map((session) => session.refresh_token), () => ({ 'x-forwarded-for': randomAddress() })) },
      { label: 'GET /v1/me (authenticated read)', node: a, connections: 6, requests: rotating('GET', '/v1/me', bearers) },
      { label: 'GET /v1/orgs/{org} (org-scoped read)', node: b, connections: 4, requests: rotating('GET', `/v1/orgs/${org}`, [bearers[0]!]) },
      { label: 'GET vault record', node: a, connections: 3, requests: rotating('GET', `/v1/orgs/${org}/records/people/alice`, keyHeaders) },
      { label: 'PUT vault record', node: b, connections: 2, requests: rotating('PUT', `/v1/orgs/${org}/records/people/alice`, keyJsonHeaders, () => JSON.stringify({ data: { name: 'Alice', n: write++ } })) },
      { label: 'POST audit event (API key)', node: a, connections: 2, requests: rotating('POST', `/v1/orgs/${org}/audit/events`, keyJsonHeaders, () => JSON.stringify({ action: 'load.written', metadata: { n: write++ } })) },
    ];
    const results = await Promise.all(loads.map((load) => drive(load, seconds)));
    console.log('| route | node | req/s | p50 ms | p99 ms | non-2xx | errors | statuses |');
    console.log('|---|---|---:|---:|---:|---:|---:|---|');
    for (const [index, result] of results.entries()) {
      const node = loads[index]!.node === a ? 'A' : 'B';
      console.log(`| ${result.label} | ${node} | ${result.rps.toFixed(0)} | ${result.p50} | ${result.p99} | ${result.non2xx} | ${result.errors} | ${result.statuses} |`);
    }
    console.log(`\nanchors:\n${ANCHORS.map((anchor) => `- ${anchor}`).join('\n')}`);
    console.log('(all routes ran at once on the same 2 cores, so each figure is its share of the machine, not its ceiling; bench/identity.bench.ts measures each alone)');

    // Cross-node revocation: signed in and out through A, refused by B on the next request.
    const session = await signIn(a.url, emails[5]!);
    const me = (node: Node) => fetch(`${node.url}/v1/me`, { headers: { authorization: `Bearer ${session.access_token}` } }).then((response) => response.status);
    const before = await me(b);
    await fetch(`${a.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${session.access_token}` } });
    const after = await me(b);
    console.log(`\ncross-node revocation: B answered ${before} before the sign-out through A, ${after} on the next request after it (${after === 401 ? 'refused: OK' : 'NOT REFUSED'})`);

    // Shared limit: one address, 0.6 of the budget through each node; only a shared counter refuses.
    const address = '203.0.113.9';
    const half = Math.ceil(AUTH_LIMIT * 0.6);
    const burst = async (node: Node) => {
      const statuses = await Promise.all(Array.from({ length: half }, () => post(`${node.url}/v1/auth/password/forgot`, { email: `nobody.${randomBytes(4).toString('hex')}@customer.test` }, { 'x-forwarded-for': address }).then((answer) => answer.status)));
      return statuses.filter((status) => status === 429).length;
    };
    const limitedA = await burst(a);
    const limitedB = await burst(b);
    console.log(
      `shared sign-in limit (${AUTH_LIMIT}/min per address): ${half} requests through A → ${limitedA} refused; ${half} more through B → ${limitedB} refused ` +
        `(${limitedB > 0 ? 'one budget across nodes: OK' : 'NOT SHARED'})`,
    );
  } finally {
    for (const node of nodes) node.child.kill('SIGTERM');
    await Promise.all(nodes.map((node) => new Promise((resolve) => (node.child.exitCode !== null ? resolve(null) : node.child.once('exit', resolve)))));
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:load: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
