import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { App } from '../src/app.js';
import { createLocalRootKeyProvider } from '../src/crypto/root-key-provider.js';
import { systemClock } from '../src/platform/clock.js';
import { withTenant } from '../src/platform/db/index.js';
import type { Database } from '../src/platform/db/index.js';
import { encodeHeader, openEnvelope, parseHeader, sealEnvelope } from '../src/vault/envelope.js';
import { createKeyring } from '../src/vault/index.js';
import { openMemoryDatabase, startBenchApp } from './lib/app.js';
import type { BenchApp } from './lib/app.js';
import { envCount, readLoadSettings } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { format, printTable } from './lib/format.js';
import { combineSamples, runLoad } from './lib/load.js';

/**
 * The vault's costs, each against a baseline run in the same process on the same inputs:
 *
 * 1. AES-256-GCM through the envelope layer (header, associated data, framing) against raw
 *    node:crypto on the same buffers, 1 KiB and 1 MiB, encrypt + decrypt. Goal: ratio above 0.8.
 * 2. Small records (200 B) encrypted and decrypted through the keyring (data key lookup per call,
 *    unwrapped keys from the cache) on PGlite, operations per second.
 * 3. Vault PUT and GET over HTTP against the same routes of a second app whose keyring stores the
 *    JSON in the clear (no data key lookup, no AES: a fixed header then the plaintext). Goal: ratio
 *    above 0.6.
 * 4. A file streamed up and down over HTTP (chunked AES-GCM), MB/s and the peak RSS growth.
 */

const GOAL_CIPHER = 0.8;
const GOAL_ROUTES = 0.6;

function timeLoop(seconds: number, work: () => void): number {
  let operations = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) work();
    operations += 16;
  }
  return operations / seconds;
}

function rawRoundTrip(key: Buffer, plaintext: Buffer, aad: Buffer): void {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  Buffer.concat([decipher.update(sealed), decipher.final()]);
}

async function cipherThroughput(seconds: number): Promise<void> {
  const key = randomBytes(32);
  const context = { tenantId: randomUUID(), collection: 'guests', recordKey: 'g-1', field: 'data' };
  const header = { keyId: randomUUID(), kekVersion: 1 };
  const rows = [['size', 'raw node:crypto MB/s', 'envelope MB/s', 'ratio', `goal > ${GOAL_CIPHER}`]];
  const rounds = 4;
  for (const size of [1024, 1024 * 1024]) {
    const plaintext = randomBytes(size);
    const aad = Buffer.concat([encodeHeader(header), Buffer.from(JSON.stringify(['t', 'guests', 'g-1', 'data']))]);
    let [raw, envelope] = [0, 0];
    // Interleaved rounds, so a burst of load from elsewhere falls on both sides alike.
    for (let round = 0; round < rounds; round++) {
      raw += timeLoop(seconds / rounds, () => rawRoundTrip(key, plaintext, aad));
      envelope += timeLoop(seconds / rounds, () => openEnvelope(key, sealEnvelope(key, header, context, plaintext), context));
    }
    const mb = (ops: number) => (ops * size) / rounds / 1e6;
    rows.push([size === 1024 ? '1 KiB' : '1 MiB', format(mb(raw), 1), format(mb(envelope), 1), format(envelope / raw, 2), envelope / raw > GOAL_CIPHER ? 'met' : 'missed']);
  }
  printTable(rows);
}

async function keyringOps(seconds: number): Promise<void> {
  const database = await openMemoryDatabase();
  try {
    const tenantId = randomUUID();
    await withTenant(database.db, tenantId, (trx) => trx.insertInto('tenants').values({ tenant_id: tenantId, name: 'bench' }).execute());
    const rootKey = randomBytes(32);
    const keyring = createKeyring({ provider: createLocalRootKeyProvider(rootKey), rootKey, clock: systemClock });
    const record = Buffer.from(JSON.stringify({ name: 'Ada Lovelace', email: 'ada@example.test', note: 'x'.repeat(140) }));
    const placement = { collection: 'guests', recordKey: 'g-1', field: 'data' };
    let operations = 0;
    const end = performance.now() + seconds * 1000;
    await withTenant(database.db, tenantId, async (trx) => {
      while (performance.now() < end) {
        const sealed = await keyring.encrypt(trx, tenantId, 'subject-1', placement, record);
        await keyring.decrypt(trx, tenantId, placement, sealed);
        operations++;
      }
    });
    printTable([
      ['small record (200 B), one subject, PGlite', 'encrypt+decrypt per s', 'cache entries'],
      ['keyring (data key row read per call, key from the cache)', format(operations / seconds, 0), String(keyring.cache.size)],
    ]);
  } finally {
    await database.close();
  }
}

/** An app with an org and a records key; `plaintext`: the baseline that stores records in the clear. */
async function startApp(plaintext: boolean): Promise<BenchApp> {
  const entry = await startBenchApp({ name: 'rampart-bench-vault', scopes: ['records:read', 'records:write'], config: { RAMPART_VAULT_MAX_FILE_BYTES: String(1024 * 1024 * 1024) } });
  if (plaintext) await storeInTheClear(entry.app, entry.database, entry.org);
  return entry;
}

/**
 * The baseline: the same routes, service, transaction and audit, but the keyring stores the JSON in
 * the clear after a fixed header naming one data key made at start (the foreign key wants one).
 */
async function storeInTheClear(app: App, database: Database, tenantId: string): Promise<void> {
  const { keyring } = app.vault;
  const writing = await withTenant(database.db, tenantId, (trx) => keyring.writingKey(trx, tenantId, null));
  const header = encodeHeader(writing.header);
  keyring.encrypt = async (_trx, _tenant, _subject, _placement, plaintext) => Buffer.concat([header, plaintext]);
  keyring.decrypt = async (_trx, _tenant, _placement, stored) => {
    parseHeader(stored);
    return Buffer.from(stored.subarray(header.length));
  };
}

async function routeThroughput(): Promise<void> {
  const { durationSeconds, rounds, warmupSeconds, connections } = readLoadSettings();
  const apps = [await startApp(true), await startApp(false)];
  try {
    const body = JSON.stringify({ data: { name: 'Ada Lovelace', email: 'ada@example.test', note: 'x'.repeat(140) }, subject_id: 'subject-1', category: 'contact' });
    const keys = envCount('BENCH_VAULT_KEYS', 100);
    const requestsOf = (entry: BenchApp, method: 'PUT' | 'GET') => {
      let n = 0;
      return [
        {
          method,
          path: '/',
          headers: { authorization: `Bearer ${entry.key}`, 'content-type': 'application/json' },
          setupRequest: (req: { path: string; body?: string }) => ({ ...req, path: `/v1/orgs/${entry.org}/records/guests/g-${n++ % keys}`, ...(method === 'PUT' ? { body } : {}) }),
        },
      ];
    };
    // Every key GET asks for exists on both sides before anything is measured.
    for (const entry of apps) {
      for (let n = 0; n < keys; n++) {
        const response = await entry.app.inject({ method: 'PUT', url: `/v1/orgs/${entry.org}/records/guests/g-${n}`, headers: { authorization: `Bearer ${entry.key}`, 'content-type': 'application/json' }, payload: body });
        if (response.statusCode >= 300) throw new Error(`seeding: ${response.statusCode} ${response.body}`);
      }
    }
    const rows = [['route', 'plaintext req/s', 'vault req/s', 'ratio', `goal > ${GOAL_ROUTES}`]];
    for (const method of ['PUT', 'GET'] as const) {
      const samples = new Map<BenchApp, Array<Awaited<ReturnType<typeof runLoad>>>>();
      for (const entry of apps) await runLoad({ url: entry.url, durationSeconds: warmupSeconds, connections, requests: requestsOf(entry, method) as never });
      for (let round = 0; round < rounds; round++) {
        for (const entry of round % 2 === 0 ? apps : [...apps].reverse()) {
          const sample = await runLoad({ url: entry.url, durationSeconds, connections, requests: requestsOf(entry, method) as never });
          samples.set(entry, [...(samples.get(entry) ?? []), sample]);
        }
      }
      const rate = (entry: BenchApp) => {
        const combined = combineSamples(samples.get(entry)!);
        return combined.responses / combined.durationSeconds;
      };
      const [plain, vault] = [rate(apps[0]!), rate(apps[1]!)];
      rows.push([`${method} /v1/orgs/:org/records/guests/:key`, format(plain, 0), format(vault, 0), format(vault / plain, 2), vault / plain > GOAL_ROUTES ? 'met' : 'missed']);
    }
    printTable(rows);
  } finally {
    for (const entry of apps) await entry.close();
  }
}

function send(options: { url: string; method: string; token: string; body?: Readable }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(options.url, { method: options.method, headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/octet-stream' } }, (response) => {
      let bytes = 0;
      pipeline(response, new Writable({ write: (chunk: Buffer, _encoding, done) => ((bytes += chunk.length), done()) }))
        .then(() => (response.statusCode! < 300 ? resolve(bytes) : reject(new Error(`${options.method}: ${response.statusCode}`))))
        .catch(reject);
    });
    req.on('error', reject);
    if (options.body) options.body.pipe(req);
    else req.end();
  });
}

async function fileStreaming(): Promise<void> {
  const megabytes = envCount('BENCH_VAULT_FILE_MB', 256);
  const entry = await startApp(false);
  try {
    const chunk = randomBytes(1024 * 1024);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const url = `${entry.url}/v1/orgs/${entry.org}/files/big.bin`;
    const upStart = performance.now();
    await send({ url, method: 'PUT', token: entry.key, body: Readable.from((function* () {
      for (let i = 0; i < megabytes; i++) yield chunk;
    })()) });
    const upSeconds = (performance.now() - upStart) / 1000;
    const downStart = performance.now();
    const received = await send({ url, method: 'GET', token: entry.key });
    const downSeconds = (performance.now() - downStart) / 1000;
    clearInterval(sampler);
    if (received !== megabytes * 1024 * 1024) throw new Error(`downloaded ${received} bytes, expected ${megabytes} MiB`);
    const mbps = (seconds: number) => format((megabytes * 1024 * 1024) / 1e6 / seconds, 1);
    printTable([
      [`file of ${megabytes} MiB over loopback, 64 KiB chunks`, 'MB/s', 'peak RSS growth (MiB)'],
      ['PUT (stream, encrypt, write)', mbps(upSeconds), format((peak - baseline) / 1024 / 1024, 0)],
      ['GET (authenticate whole file, then decrypt and stream)', mbps(downSeconds), ''],
    ]);
  } finally {
    await entry.close();
  }
}

const benchmark: Benchmark = {
  description: 'envelope AES-GCM vs raw node:crypto, keyring ops/s, record routes vs plaintext, file streaming',
  async run() {
    const seconds = readLoadSettings().durationSeconds / 2;
    await cipherThroughput(seconds);
    console.log('');
    await keyringOps(seconds);
    console.log('');
    await routeThroughput();
    console.log('');
    await fileStreaming();
  },
};

export default benchmark;
