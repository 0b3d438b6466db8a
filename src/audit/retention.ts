import type { JsonWebKey } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB } from '../platform/db/index.js';
import { ARCHIVE_FORMAT, ArchiveIntegrityError, readArchive, toArchivedEntry, writeArchive } from './archive-file.js';
import type { ArchivedEntry, ArchiveHeader } from './archive-file.js';
import { appendToChains, toBuffer, toBuffers } from './chain.js';
import { findCheckpoint, listCheckpoints } from './checkpoints.js';

export const AUDIT_RETENTION_JOB = 'audit.retention';
/** Once a day, at a quiet hour (UTC). */
export const AUDIT_RETENTION_CRON = '17 3 * * *';

const DAY_MS = 86_400_000;
const READ_BATCH = 2000;

export interface RetentionDependencies {
  db: Kysely<DB>;
  clock: Clock;
  retentionDays: number;
  archiveDir: string;
  /** archiveKey(root, 'audit-archive') from the backup hierarchy. */
  archiveKey: Buffer;
  /** The audit public keys: an archive is checked against its signed checkpoints before anything is deleted. */
  publicKeys: () => Promise<JsonWebKey[]>;
}

/** What retention will do to one chain: archive entries from..below-1, up to the signed checkpoint at `below`. */
export interface ArchivePlan {
  tenant: string;
  header: ArchiveHeader;
  /** The file name: the same boundary always gives the same name, so a rerun finds its file. */
  file: string;
}

export interface ArchivedChain {
  tenant: string;
  from: number;
  below: number;
  file: string;
  sha256: string;
}

/** `<tenant>-<from>-<below>.ndjson.gz.enc`, sizes zero-padded so names sort in chain order. */
export function archiveFileName(tenant: string, from: number, below: number): string {
  return `${tenant}-${String(from).padStart(16, '0')}-${String(below).padStart(16, '0')}.ndjson.gz.enc`;
}

/**
 * Audit retention: moves each chain's expired prefix to a sealed archive file, then deletes it
 * through rampart_audit_archive() (migrations/0004_audit.sql), which records the boundary the
 * remaining chain verifies from. The boundary is the largest signed checkpoint whose entries are
 * all older than the cutoff; a chain with none yet waits for a later run (never a retroactive
 * checkpoint), so entries are kept at least the retention period, at most one checkpoint interval
 * plus a day more (docs/decisions/0017-audit-retention-archives.md).
 *
 * Idempotent and resumable: the file of a boundary has one name; a rerun after a crash between
 * writing it and deleting reuses it once it verifies (else writes it again), and a rerun after the
 * delete finds nothing expired above the boundary. The deletion and its `audit.archived` entry
 * commit together.
 */
export function createAuditRetention(deps: RetentionDependencies) {
  async function planChain(tenant: string): Promise<ArchivePlan | null> {
    const cutoff = new Date(deps.clock.now().getTime() - deps.retentionDays * DAY_MS);
    return withTenant(deps.db, tenant, async (trx) => {
      const head = await trx.selectFrom('audit_heads').select(['size', 'archived_size', 'archived_prev_hash', 'archived_frontier']).where('tenant_id', '=', tenant).executeTakeFirst();
      if (!head || head.size === head.archived_size) return null;
      // Times are not strictly increasing with seq (a timestamp is taken before the head's lock):
      // the prefix ends at the first entry that is not expired, whatever comes after it.
      const young = await trx.selectFrom('audit_entries').select('seq').where('tenant_id', '=', tenant).where('seq', '>=', head.archived_size).where('at', '>=', cutoff).orderBy('seq').limit(1).executeTakeFirst();
      const limit = young?.seq ?? head.size;
      const [boundary] = await listCheckpoints(trx, tenant, { limit: 1, beforeSize: limit + 1 });
      if (!boundary || boundary.size <= head.archived_size) return null;
      const from = head.archived_size;
      const start = from === 0 ? null : await findCheckpoint(trx, tenant, from);
      const header: ArchiveHeader = {
        format: ARCHIVE_FORMAT,
        tenant,
        from,
        below: boundary.size,
        start: { prev_hash: toBuffer(head.archived_prev_hash).toString('hex'), frontier: toBuffers(head.archived_frontier).map((node) => node.toString('hex')), checkpoint: start ?? null },
        checkpoint: boundary,
      };
      return { tenant, header, file: archiveFileName(tenant, from, boundary.size) };
    });
  }

  async function* entriesOf(plan: ArchivePlan): AsyncGenerator<ArchivedEntry[]> {
    const { tenant, header } = plan;
    for (let next = header.from; next < header.below; ) {
      const rows = await withTenant(deps.db, tenant, (trx) =>
        trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', tenant).where('seq', '>=', next).where('seq', '<', header.below).orderBy('seq').limit(READ_BATCH).execute(),
      );
      // A gap is caught by the archive's own check, before anything is deleted.
      if (rows.length === 0) return;
      yield rows.map(toArchivedEntry);
      next = rows.at(-1)!.seq + 1;
    }
  }

  /** The existing file's SHA-256 when it is this plan's complete, valid archive; null when it is absent or unusable. */
  async function existingArchive(path: string, plan: ArchivePlan, publicKeys: JsonWebKey[]): Promise<string | null> {
    if (!(await stat(path).catch(() => null))) return null;
    try {
      const summary = await readArchive(path, plan.file, deps.archiveKey, publicKeys);
      const same = summary.tenant === plan.tenant && summary.from === plan.header.from && summary.below === plan.header.below && summary.checkpoint.root === plan.header.checkpoint.root;
      return same ? summary.sha256 : null;
    } catch (error) {
      if (error instanceof ArchiveIntegrityError) return null;
      throw error;
    }
  }

  /**
   * Step one: the plan's archive file, written (temporary name, fsync, rename, fsync of the
   * folder) and checked, or the one a crashed run left, when it checks out. Nothing is deleted.
   */
  async function writeArchiveFile(plan: ArchivePlan): Promise<string> {
    const path = join(deps.archiveDir, plan.file);
    const publicKeys = await deps.publicKeys();
    const existing = await existingArchive(path, plan, publicKeys);
    if (existing) return existing;
    await mkdir(deps.archiveDir, { recursive: true, mode: 0o700 });
    const partial = join(deps.archiveDir, `.partial-${plan.file}`);
    await rm(partial, { force: true });
    await writeArchive(partial, plan.file, deps.archiveKey, plan.header, entriesOf(plan));
    await fsync(partial);
    // The check reads back what is on disk: nothing is deleted on the strength of a bad write.
    const written = await readArchive(partial, plan.file, deps.archiveKey, publicKeys);
    await rename(partial, path);
    await fsync(deps.archiveDir);
    return written.sha256;
  }

  /** Step two: deletes the archived prefix and records it in the chain, in one transaction. */
  async function removeArchived(plan: ArchivePlan, sha256: string): Promise<ArchivedChain | null> {
    const { tenant, header, file } = plan;
    return deps.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ removed: number | string }>`select rampart_audit_archive(${tenant}, ${header.below}) as removed`.execute(trx);
      // Another run got there first: it recorded the archive.
      if (Number(rows[0]?.removed ?? 0) === 0) return null;
      await appendToChains(trx, [
        {
          tenantId: tenant,
          entries: [
            {
              at: deps.clock.now(),
              action: 'audit.archived',
              actor: { type: 'system', id: null },
              target: null,
              requestId: null,
              metadata: { from: header.from, below: header.below, file, sha256 },
              personal: null,
              subjectId: null,
            },
          ],
        },
      ]);
      return { tenant, from: header.from, below: header.below, file, sha256 };
    });
  }

  return {
    planChain,
    writeArchiveFile,

    /** Archives one chain's expired prefix; null when nothing is due. */
    async archiveChain(tenant: string): Promise<ArchivedChain | null> {
      const plan = await planChain(tenant);
      if (!plan) return null;
      return removeArchived(plan, await writeArchiveFile(plan));
    },

    /** Archives every chain's expired prefix; returns what it archived. */
    async run(): Promise<ArchivedChain[]> {
      const { rows } = await sql<{ tenant_id: string }>`select tenant_id from rampart_audit_chains() where size > archived_size`.execute(deps.db);
      const archived: ArchivedChain[] = [];
      for (const { tenant_id: tenant } of rows) {
        const done = await this.archiveChain(tenant);
        if (done) archived.push(done);
      }
      return archived;
    },
  };
}

export type AuditRetention = ReturnType<typeof createAuditRetention>;

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
