import { request } from 'node:http';
import { withTenant } from '../src/platform/db/index.js';
import type { DB } from '../src/platform/db/index.js';
import type { Insertable } from 'kysely';
import { startBenchApp } from './lib/app.js';
import type { BenchApp } from './lib/app.js';
import { envCount } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { format, printTable } from './lib/format.js';
import { measured } from './lib/memory.js';
import { sealedRecordRow } from './lib/vault-rows.js';

/**
 * Data-subject requests at size, each against a baseline in the same process:
 *
 * 1. Access export of one subject with BENCH_DSR_RECORDS records (default 10,000; the issue's
 *    100,000 with BENCH_DSR_RECORDS=100000): time, MB/s and peak RSS of GET /dsr/{id}/export over
 *    loopback, against reading records of the same subject through the vault's own paginated list
 *    (GET /records/{collection}?subject_id=, 100 a page; the first BENCH_DSR_BASELINE records,
 *    default 5,000: the list audits every read, which makes it slow to run to 100,000).
 *    Compared in records per second. Goal: peak RSS under 200 MB.
 * 2. Erasure latency until unreadable: POST /dsr (erasure) then the first GET of one of the
 *    subject's records answering 404, for subjects of growing size, against the latency of a single
 *    record DELETE. Goal: under 100 ms and flat as the subject grows.
 */

const GOAL_RSS_MB = 200;
const GOAL_UNREADABLE_MS = 100;
const SEED_BATCH = 1_000;
const PAGE = 100;

/** An app with an org whose erasure has a grace period, and a key with records and dsr scopes. */
function startApp(): Promise<BenchApp> {
  return startBenchApp({ name: 'rampart-bench-dsr', scopes: ['records:read', 'records:write', 'dsr:read', 'dsr:write'], orgSettings: { erasure_grace_days: 30 } });
}

/**
 * Writes `count` records of one subject straight into the vault's table, encrypted exactly as the
 * vault does (the subject's data key, an envelope per field): the HTTP route would take minutes
 * for 100,000, and what is measured here is reading and erasing them.
 */
async function seedSubject(entry: BenchApp, subjectId: string, count: number, collection = 'guests'): Promise<void> {
  const { vault } = entry.app;
  const tenantId = entry.org;
  const { database } = entry;
  const index = vault.subjectIndex(tenantId, subjectId);
  const writing = await withTenant(database.db, tenantId, (trx) => vault.keyring.writingKey(trx, tenantId, index));
  const now = new Date();
  for (let start = 0; start < count; start += SEED_BATCH) {
    const rows: Array<Insertable<DB['vault_records']>> = [];
    for (let i = start; i < Math.min(count, start + SEED_BATCH); i++) {
      const data = Buffer.from(JSON.stringify({ name: 'Ada Lovelace', email: 'ada@example.test', note: 'x'.repeat(140), n: i }));
      rows.push(sealedRecordRow(writing, { tenantId, collection, recordKey: `r${String(i).padStart(7, '0')}`, subjectId, subjectIndex: index, data, now }));
    }
    await withTenant(database.db, tenantId, (trx) => trx.insertInto('vault_records').values(rows).execute());
  }
}

/** Reads a response to the end, counting its bytes. */
function download(url: string, token: string): Promise<{ bytes: number; status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ bytes, status: response.statusCode ?? 0 }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function accessExport(): Promise<void> {
  const count = envCount('BENCH_DSR_RECORDS', 10_000);
  const entry = await startApp();
  try {
    const subject = 'bench-subject';
    await seedSubject(entry, subject, count);
    const created = await entry.app.inject({ method: 'POST', url: `/v1/orgs/${entry.org}/dsr`, headers: { authorization: `Bearer ${entry.key}` }, payload: { type: 'access', subject_id: subject } });
    const requestId = created.json<{ id: string }>().id;

    const exported = await measured(() => download(`${entry.url}/v1/orgs/${entry.org}/dsr/${requestId}/export`, entry.key));
    if (exported.result.status !== 200) throw new Error(`export answered ${exported.result.status}`);
    const baselineCount = Math.min(count, envCount('BENCH_DSR_BASELINE', 5_000));
    const listed = await measured(async () => {
      let cursor: string | null = null;
      let records = 0;
      do {
        const page: { json<T>(): T } = await entry.app.inject({ method: 'GET', url: `/v1/orgs/${entry.org}/records/guests?subject_id=${subject}&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`, headers: { authorization: `Bearer ${entry.key}` } });
        const body: { data: unknown[]; next_cursor: string | null } = page.json<{ data: unknown[]; next_cursor: string | null }>();
        records += body.data.length;
        cursor = body.next_cursor;
      } while (cursor && records < baselineCount);
      return records;
    });
    if (listed.result !== baselineCount) throw new Error(`the list returned ${listed.result} records, expected ${baselineCount}`);
    const rate = (records: number, seconds: number) => records / seconds;
    printTable([
      [`one subject, ${count} records (200 B each)`, 'records', 'seconds', 'records/s', 'MB/s', 'RSS at start (MiB, PGlite in process)', 'peak RSS growth (MiB)', `goal < ${GOAL_RSS_MB} MiB`],
      ['GET /dsr/{id}/export (streamed bundle)', String(count), format(exported.seconds, 2), format(rate(count, exported.seconds), 0), format(exported.result.bytes / 1e6 / exported.seconds, 1), format(exported.startMb, 0), format(exported.peakMb - exported.startMb, 0), exported.peakMb - exported.startMb < GOAL_RSS_MB ? 'met' : 'MISSED'],
      ['baseline: GET /records?subject_id= pages of 100', String(baselineCount), format(listed.seconds, 2), format(rate(baselineCount, listed.seconds), 0), '', format(listed.startMb, 0), format(listed.peakMb - listed.startMb, 0), ''],
      ['ratio export / baseline (records/s)', '', '', format(rate(count, exported.seconds) / rate(baselineCount, listed.seconds), 2), '', '', '', ''],
    ]);
  } finally {
    await entry.close();
  }
}

async function erasureLatency(): Promise<void> {
  const largest = envCount('BENCH_DSR_ERASE_MAX', 10_000);
  const sizes = [100, 1_000, 10_000, 100_000].filter((size) => size <= largest);
  const entry = await startApp();
  try {
    const rows = [['subject records', 'POST erasure -> first 404 (ms)', 'baseline: DELETE one record (ms)', 'ratio', `goal < ${GOAL_UNREADABLE_MS} ms`]];
    const headers = { authorization: `Bearer ${entry.key}` };
    for (const size of sizes) {
      const subject = `erase-${size}`;
      const collection = `guests${size}`;
      await seedSubject(entry, subject, size, collection);
      // Warm: the first request of a kind pays for route and schema compilation.
      await entry.app.inject({ method: 'GET', url: `/v1/orgs/${entry.org}/records/${collection}/r0000000`, headers });
      const start = performance.now();
      const created = await entry.app.inject({ method: 'POST', url: `/v1/orgs/${entry.org}/dsr`, headers, payload: { type: 'erasure', subject_id: subject } });
      if (created.statusCode !== 201) throw new Error(`erasure answered ${created.statusCode} ${created.body}`);
      const read = await entry.app.inject({ method: 'GET', url: `/v1/orgs/${entry.org}/records/${collection}/r${String(size - 1).padStart(7, '0')}`, headers });
      const unreadableMs = performance.now() - start;
      if (read.statusCode !== 404) throw new Error(`a record of the erased subject answered ${read.statusCode}`);
      const baselineKey = `single-${size}`;
      await entry.app.inject({ method: 'PUT', url: `/v1/orgs/${entry.org}/records/other/${baselineKey}`, headers, payload: { data: { n: 1 }, subject_id: `single-${size}` } });
      const deleteStart = performance.now();
      await entry.app.inject({ method: 'DELETE', url: `/v1/orgs/${entry.org}/records/other/${baselineKey}`, headers });
      const deleteMs = performance.now() - deleteStart;
      rows.push([String(size), format(unreadableMs, 1), format(deleteMs, 1), format(unreadableMs / deleteMs, 2), unreadableMs < GOAL_UNREADABLE_MS ? 'met' : 'MISSED']);
    }
    printTable(rows);
  } finally {
    await entry.close();
  }
}

const benchmark: Benchmark = {
  description: 'subject access export (time, MB/s, peak RSS) vs the paginated record list; erasure latency until unreadable vs subject size',
  async run() {
    await accessExport();
    console.log('');
    await erasureLatency();
  },
};

export default benchmark;
