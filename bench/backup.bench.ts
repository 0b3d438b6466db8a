import { execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { sql } from 'kysely';
import { createBackupService } from '../src/backup/index.js';
import { readPart } from '../src/backup/parts.js';
import { openBackup } from '../src/backup/backup-reader.js';
import { createScratchTarget } from '../src/backup/scratch.js';
import { loadConfig } from '../src/config.js';
import { deriveKey } from '../src/crypto/root-key.js';
import { systemClock } from '../src/platform/clock.js';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS } from '../src/platform/db/index.js';
import type { Database } from '../src/platform/db/index.js';
import { envCount } from './lib/benchmark.js';
import type { Benchmark } from './lib/benchmark.js';
import { prepareDatabase } from './lib/database.js';
import { format, printTable } from './lib/format.js';

/**
 * Backup and restore throughput (MB/s of row text, rows/s) against a baseline measured in the same
 * process on the same bytes: one gzip stream piped through one AES-256-GCM cipher, the least any
 * compressed-then-encrypted backup must do. With DATABASE_URL, also pg_dump -Fc / pg_restore of the
 * same database. Peak RSS shows memory stays flat as rows grow (BENCH_BACKUP_ROWS, default 200000).
 */

const execFileAsync = promisify(execFile);
const ROOT_KEY = randomBytes(32);

async function openSource(): Promise<{ database: Database; url: string | null; label: string; drop(): Promise<void> }> {
  const prepared = await prepareDatabase();
  const url = prepared.env.BENCH_DATABASE_URL ?? null;
  if (url) {
    const database = openPostgres(url, 4);
    return { database, url, label: prepared.label, drop: async () => (await database.close(), await prepared.drop()) };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const database = fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
  return { database, url: null, label: prepared.label, drop: () => database.close() };
}

/** Rows shaped like Rampart's: a jsonb payload, text, timestamps, identity ids. */
async function seed(database: Database, rows: number): Promise<void> {
  await sql`insert into jobs (name, payload, run_at, state, finished_at)
    select 'bench.job', jsonb_build_object('i', g, 'token_hash', md5(g::text), 'note', repeat('x', 40)), now(), 'done', now()
    from generate_series(1, ${Math.ceil(rows / 2)}) g`.execute(database.db);
  await sql`insert into security_events (realm, principal_id, action, ip, user_agent, metadata, at)
    select 'user', gen_random_uuid(), 'auth.login.succeeded', '203.0.113.' || (g % 250), 'Mozilla/5.0 (bench) ' || md5(g::text),
      jsonb_build_object('amr', jsonb_build_array('pwd', 'otp')), now() - (g || ' seconds')::interval
    from generate_series(1, ${Math.floor(rows / 2)}) g`.execute(database.db);
}

/** The plaintext NDJSON of every part of a backup, in memory (for the baseline only). */
async function plaintextOf(dir: string, id: string, backupKey: Buffer): Promise<Buffer[]> {
  const backup = await openBackup(dir, id, backupKey);
  const buffers: Buffer[] = [];
  for (const table of backup.manifest.tables) {
    const reader = readPart(join(dir, table.part), backup.dataKey, { backupId: id, part: table.part }, 10_000);
    for await (const batch of reader.items) buffers.push(Buffer.from(batch.map((row) => `${JSON.stringify(row)}\n`).join('')));
  }
  return buffers;
}

/** gzip then AES-256-GCM over `buffers`, streaming, output discarded: seconds taken. */
async function baselineSeconds(buffers: Buffer[]): Promise<number> {
  const started = performance.now();
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  const gzip = createGzip();
  gzip.on('data', (chunk: Buffer) => cipher.update(chunk));
  const done = new Promise<void>((resolve) => gzip.on('end', resolve));
  for (const buffer of buffers) if (!gzip.write(buffer)) await new Promise((resolve) => gzip.once('drain', resolve));
  gzip.end();
  await done;
  cipher.final();
  return (performance.now() - started) / 1000;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

async function pgDumpSeconds(url: string): Promise<{ dump: number; restore: number } | null> {
  const folder = await mkdtemp(join(tmpdir(), 'rampart-bench-pgdump-'));
  const scratch = await createScratchTarget(url);
  try {
    const file = join(folder, 'dump');
    let started = performance.now();
    await execFileAsync('pg_dump', ['-Fc', '-f', file, url]);
    const dump = (performance.now() - started) / 1000;
    started = performance.now();
    if (scratch.into.kind !== 'postgres') return null;
    await execFileAsync('pg_restore', ['--no-owner', '-d', scratch.into.url, file]);
    return { dump, restore: (performance.now() - started) / 1000 };
  } catch (error) {
    console.log(`pg_dump/pg_restore not measured: ${(error as Error).message.split('\n')[0]}`);
    return null;
  } finally {
    await scratch.drop();
    await rm(folder, { recursive: true, force: true });
  }
}

const benchmark: Benchmark = {
  description: 'backup create / restore throughput vs gzip+AES-GCM over the same bytes (and pg_dump on PostgreSQL)',
  async run() {
    const rows = envCount('BENCH_BACKUP_ROWS', 200_000);
    const source = await openSource();
    const folder = await mkdtemp(join(tmpdir(), 'rampart-bench-backup-'));
    try {
      console.log(`database: ${source.label}`);
      await migrate(source.database.db);
      await seed(source.database, rows);
      const config = loadConfig({ RAMPART_DATA_DIR: folder, RAMPART_ROOT_KEY: ROOT_KEY.toString('base64'), ...(source.url ? { DATABASE_URL: source.url } : {}) });
      const service = createBackupService({ config, database: source.database, rootKey: ROOT_KEY, clock: systemClock });

      let started = performance.now();
      const created = await service.create();
      const backupSeconds = (performance.now() - started) / 1000;
      const rssAfterBackup = peakRssMb();

      const dir = join(config.backup.dir, created.id);
      const plaintext = await plaintextOf(dir, created.id, deriveKey(ROOT_KEY, 'backup'));
      const plainMb = plaintext.reduce((sum, buffer) => sum + buffer.length, 0) / 1e6;
      const baseline = await baselineSeconds(plaintext);
      plaintext.length = 0;

      const scratch = await createScratchTarget(source.url);
      let restoreSeconds: number;
      try {
        started = performance.now();
        await service.restore(created.id, scratch.into);
        restoreSeconds = (performance.now() - started) / 1000;
      } finally {
        await scratch.drop();
      }
      const rssAfterRestore = peakRssMb();
      const drill = await service.drill();

      console.log(`rows: ${format(created.rows, 0)}; row text ${format(plainMb, 1)} MB; backup on disk ${format(created.bytes / 1e6, 1)} MB\n`);
      printTable([
        ['', 'seconds', 'MB/s', 'rows/s', 'vs baseline'],
        ['baseline: gzip + AES-256-GCM of the row text', format(baseline, 2), format(plainMb / baseline, 1), '', '1.00'],
        ['rampart backup create (snapshot, write, verify)', format(backupSeconds, 2), format(plainMb / backupSeconds, 1), format(created.rows / backupSeconds, 0), format(baseline / backupSeconds, 2)],
        ['rampart backup restore (incl. new database + migrations)', format(restoreSeconds, 2), format(plainMb / restoreSeconds, 1), format(created.rows / restoreSeconds, 0), format(baseline / restoreSeconds, 2)],
        ['rampart backup drill (restore + verify: measured RTO)', format(drill.duration_ms / 1000, 2), '', '', drill.outcome],
      ]);
      if (drill.outcome === 'failed') console.log(`\ndrill failed: ${JSON.stringify(drill.details)}`);
      console.log(`\npeak RSS: ${format(rssAfterBackup, 0)} MB after backup, ${format(rssAfterRestore, 0)} MB after restore`);
      if (source.url) {
        const pgDump = await pgDumpSeconds(source.url);
        if (pgDump) {
          console.log(`pg_dump -Fc: ${format(pgDump.dump, 2)} s (rampart backup / pg_dump time: ${format(backupSeconds / pgDump.dump, 2)}); pg_restore: ${format(pgDump.restore, 2)} s (rampart restore / pg_restore: ${format(restoreSeconds / pgDump.restore, 2)})`);
        }
      }
    } finally {
      await source.drop();
      await rm(folder, { recursive: true, force: true });
    }
  },
};

export default benchmark;
