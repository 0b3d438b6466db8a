import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import type { LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { sql } from 'kysely';
import { canonicalEntry } from '../src/audit/canonical.js';
import { verifyChain } from '../src/audit/verify.js';
import { buildApp } from '../src/app.js';
import type { App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS, withTenant } from '../src/platform/db/index.js';
import type { Database } from '../src/platform/db/index.js';
import { createLogger } from '../src/platform/log/logger.js';
import { envCount, envNumber } from './lib/benchmark.js';
import { prepareDatabase } from './lib/database.js';
import type { Benchmark } from './lib/benchmark.js';
import { format, printTable } from './lib/format.js';
import { latencyPercentiles } from './lib/load.js';

/**
 * The audit log, in one process through app.inject (no sockets: what is measured is the app and
 * the database, with the same group commit, chain append and queries as over HTTP):
 * - append throughput of POST /audit/events into one tenant's chain and into 50 chains at once,
 *   with BENCH_AUDIT_CONCURRENCY requests in flight (group commit needs concurrent requests), p99;
 * - GET /audit latency per filter on a chain of BENCH_AUDIT_ENTRIES entries generated in SQL;
 * - verification speed against raw SHA-256 over the same canonical bytes (ratio; goal > 0.5);
 * - inclusion and consistency proof latency.
 * PostgreSQL (a fresh database, dropped after) when DATABASE_URL is set, PGlite in memory otherwise.
 */

const TENANTS = 50;
const PASSWORD = `bench-${randomBytes(12).toString('base64url')}`;

interface Fixture {
  app: App;
  database: Database;
  orgs: Array<{ id: string; writer: string; reader: string }>;
  drop(): Promise<void>;
}

/** The in-process counterpart of the server benchmarks' database: the same fresh PostgreSQL database, or PGlite in memory. */
async function openDatabase(): Promise<{ database: Database; label: string; drop: () => Promise<void> }> {
  const prepared = await prepareDatabase();
  const url = prepared.env.BENCH_DATABASE_URL;
  const database = url ? openPostgres(url, 10) : fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  return {
    database,
    label: prepared.label,
    drop: async () => {
      await database.close();
      await prepared.drop();
    },
  };
}

async function setUp(): Promise<Fixture & { label: string }> {
  const { database, label, drop } = await openDatabase();
  await migrate(database.db);
  const config = loadConfig({
    RAMPART_DATA_DIR: join(tmpdir(), 'rampart-bench-unused'),
    RAMPART_RATE_LIMIT_PER_IP: '1000000',
    RAMPART_RATE_LIMIT_AUTH_PER_IP: '1000000',
    RAMPART_RATE_LIMIT_PER_ACCOUNT: '1000000',
    RAMPART_AUDIT_CHECKPOINT_EVERY: '1',
  });
  const logger = createLogger('warn', pino.destination({ dest: '/dev/null', sync: false }));
  const app = await buildApp({ config, database, rootKey: randomBytes(32), logger });
  await app.ready();
  const call = async <T>(method: 'GET' | 'POST', url: string, payload?: object, token?: string): Promise<T> => {
    const response = await app.inject({ method, url, ...(payload ? { payload } : {}), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
    if (response.statusCode >= 300) throw new Error(`seeding: ${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json<T>();
  };
  const email = `bench-owner-${randomBytes(4).toString('hex')}@example.com`;
  await call('POST', '/v1/auth/signup', { email, password: PASSWORD });
  const token = (await call<{ access_token: string }>('POST', '/v1/auth/login', { email, password: PASSWORD })).access_token;
  const orgs: Fixture['orgs'] = [];
  for (let index = 0; index < TENANTS; index++) {
    const { id } = await call<{ id: string }>('POST', '/v1/orgs', { name: `Bench ${index}` }, token);
    const key = async (scope: string) => (await call<{ key: string }>('POST', `/v1/orgs/${id}/api-keys`, { name: scope, scopes: [scope] }, token)).key;
    orgs.push({ id, writer: await key('audit:write'), reader: await key('audit:read') });
  }
  return {
    app,
    database,
    orgs,
    label,
    async drop() {
      await app.close();
      await drop();
    },
  };
}

/** `concurrency` closed-loop workers for `seconds`; each picks its org with `pick(worker)`. */
async function appendLoad(fixture: Fixture, seconds: number, concurrency: number, pick: (worker: number) => { id: string; writer: string }) {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let failures = 0;
  const worker = async (index: number) => {
    const org = pick(index);
    let n = 0;
    while (performance.now() < deadline) {
      const started = performance.now();
      const response: LightMyRequestResponse = await fixture.app.inject({
        method: 'POST',
        url: `/v1/orgs/${org.id}/audit/events`,
        headers: { authorization: `Bearer ${org.writer}` },
        payload: { action: 'invoice.paid', actor: { type: 'user', id: `customer-${index}` }, target: { type: 'invoice', id: `inv-${index}-${n++}` }, metadata: { amount_cents: 1299, currency: 'EUR' } },
      });
      if (response.statusCode !== 201) failures++;
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (performance.now() - started) / 1000;
  if (failures > 0) throw new Error(`${failures} appends failed; the measurement is invalid`);
  // CPU per event of this process (app + load), robust to other load on the machine; the database's is not in it.
  return { perSecond: latencies.length / elapsed, cpuMicros: (cpu.user + cpu.system) / latencies.length, ...latencyPercentiles(latencies), count: latencies.length };
}

/** Adds `count` entries to the chain of `tenantId` in SQL (fast; the hashes are not a valid chain: for query timing only). */
async function generateEntries(database: Database, tenantId: string, count: number): Promise<void> {
  const db = database.db;
  await sql`insert into audit_heads (tenant_id) values (${tenantId}) on conflict do nothing`.execute(db);
  const start = (await withTenant(db, tenantId, (trx) => trx.selectFrom('audit_heads').select('size').where('tenant_id', '=', tenantId).executeTakeFirstOrThrow())).size;
  const chunk = 100_000;
  for (let from = start; from < start + count; from += chunk) {
    const to = Math.min(start + count, from + chunk) - 1;
    await sql`
      insert into audit_entries (tenant_id, seq, id, at, action, actor_type, actor_id, target_type, target_id, metadata, prev_hash, hash)
      select ${tenantId}::uuid, g, gen_random_uuid(), timestamptz '2025-01-01' + g * interval '1 second',
        (array['invoice.paid', 'invoice.voided', 'member.role_changed', 'report.signed', 'auth.login.succeeded'])[1 + g % 5],
        'user', 'user-' || (g % 1000), 'doc', 'doc-' || (g % 50000), '{}'::jsonb,
        sha256(int8send(g - 1)), sha256(int8send(g))
      from generate_series(${from}::bigint, ${to}::bigint) g`.execute(db);
  }
  await sql`update audit_heads set size = ${start + count} where tenant_id = ${tenantId}`.execute(db);
  await sql`analyze audit_entries`.execute(db);
}

async function timeRequests(fixture: Fixture, urls: string[], token: string, repeat: number) {
  const latencies: number[] = [];
  for (let round = 0; round < repeat; round++) {
    for (const url of urls) {
      const started = performance.now();
      const response = await fixture.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
      latencies.push(performance.now() - started);
      if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
    }
  }
  return latencyPercentiles(latencies);
}

async function run(): Promise<void> {
  const seconds = envNumber('BENCH_DURATION', 10);
  const concurrency = envCount('BENCH_AUDIT_CONCURRENCY', 64);
  const bigChain = envCount('BENCH_AUDIT_ENTRIES', 1_000_000);
  const fixture = await setUp();
  try {
    console.log(`database:  ${fixture.label}\nload:      in-process app.inject, ${concurrency} requests in flight, ${seconds} s per run`);
    const [first] = fixture.orgs;
    await appendLoad(fixture, Math.min(2, seconds), concurrency, () => first!); // warm-up
    const one = await appendLoad(fixture, seconds, concurrency, () => first!);
    const many = await appendLoad(fixture, seconds, concurrency, (worker) => fixture.orgs[worker % TENANTS]!);
    console.log('\nappend (POST /v1/orgs/:org/audit/events, group commit)\n');
    printTable([
      ['chains', 'events/s', 'app CPU µs/event', 'p50 ms', 'p99 ms', 'goal'],
      ['1 tenant', format(one.perSecond, 0), format(one.cpuMicros, 0), format(one.p50, 2), format(one.p99, 2), '5,000/s'],
      [`${TENANTS} tenants`, format(many.perSecond, 0), format(many.cpuMicros, 0), format(many.p50, 2), format(many.p99, 2), '20,000/s'],
    ]);

    // Verification against raw SHA-256 over the same canonical bytes, on the first org's chain.
    const db = fixture.database.db;
    const rows = await withTenant(db, first!.id, (trx) => trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', first!.id).orderBy('seq').execute());
    const canonical = rows.map((row) =>
      canonicalEntry({
        tenantId: row.tenant_id,
        seq: row.seq,
        id: row.id,
        at: row.at,
        action: row.action,
        actor: { type: row.actor_type, id: row.actor_id },
        target: row.target_type === null ? null : { type: row.target_type, id: row.target_id ?? '' },
        requestId: row.request_id,
        metadata: row.metadata as Record<string, unknown>,
        personal: row.personal === null ? null : Buffer.from(row.personal),
        subjectId: row.subject_id,
        prevHash: Buffer.from(row.prev_hash),
      }),
    );
    let started = performance.now();
    for (const bytes of canonical) createHash('sha256').update(bytes).digest();
    const rawPerSecond = canonical.length / ((performance.now() - started) / 1000);
    started = performance.now();
    const verified = await verifyChain(db, first!.id);
    const verifyPerSecond = verified.entries / ((performance.now() - started) / 1000);
    if (!verified.valid) throw new Error(`the chain does not verify: ${JSON.stringify(verified)}`);
    console.log(`\nverification (${format(verified.entries, 0)} entries)\n`);
    printTable([
      ['side', 'entries/s', 'ratio'],
      ['raw SHA-256 over the canonical bytes (in memory)', format(rawPerSecond, 0), '1.00'],
      ['verifyChain (reads, recomputes hashes, links, Merkle tree, checkpoint signatures)', format(verifyPerSecond, 0), format(verifyPerSecond / rawPerSecond, 3)],
    ]);

    // Proofs against a checkpoint of the whole chain (the job signs every grown chain: EVERY=1).
    await fixture.app.jobs.enqueue(db, 'audit.checkpoint', {}, { idempotencyKey: `bench-${randomBytes(4).toString('hex')}` });
    await fixture.app.worker.runOnce();
    const size = (await withTenant(db, first!.id, (trx) => trx.selectFrom('audit_checkpoints').select('size').where('tenant_id', '=', first!.id).orderBy('size', 'desc').executeTakeFirstOrThrow())).size;
    const inclusion = Array.from({ length: 200 }, () => `/v1/orgs/${first!.id}/audit/proofs/inclusion?seq=${Math.floor(Math.random() * size)}&size=${size}`);
    const proofTimes = await timeRequests(fixture, inclusion, first!.reader, 1);
    console.log(`\nproofs (chain of ${format(size, 0)} entries, checkpoint at its size; GET through app.inject)\n`);
    printTable([
      ['proof', 'p50 ms', 'p99 ms'],
      ['inclusion', format(proofTimes.p50, 2), format(proofTimes.p99, 2)],
    ]);

    // List latency on a large chain.
    const big = fixture.orgs[1]!;
    started = performance.now();
    await generateEntries(fixture.database, big.id, bigChain);
    console.log(`\nlist (GET /v1/orgs/:org/audit?limit=50) on a chain of ${format(bigChain, 0)} entries (generated in SQL in ${format((performance.now() - started) / 1000, 1)} s)\n`);
    const base = `/v1/orgs/${big.id}/audit`;
    const filters: Array<[string, string]> = [
      ['newest page', ''],
      ['page 1,000 deep (cursor)', `cursor=${Buffer.from(`seq:${bigChain - 50_000}`).toString('base64url')}`],
      ['action exact', 'action=report.signed'],
      ['action prefix invoice.*', 'action=invoice.*'],
      ['actor_id', 'actor_id=user-42'],
      ['target_id', 'target_id=doc-4242'],
      ['since/until (one day, a year back)', 'since=2025-01-10T00:00:00Z&until=2025-01-11T00:00:00Z'],
    ];
    const table = [['filter', 'p50 ms', 'p99 ms']];
    for (const [label, query] of filters) {
      const times = await timeRequests(fixture, [`${base}?limit=50${query ? `&${query}` : ''}`], big.reader, 30);
      table.push([label, format(times.p50, 2), format(times.p99, 2)]);
    }
    printTable(table);
  } finally {
    await fixture.drop();
  }
}

const benchmark: Benchmark = {
  description: 'audit log: append throughput (1 and 50 tenants), p99, list latency on a large chain, verification vs raw SHA-256, proof latency',
  run,
};
export default benchmark;
