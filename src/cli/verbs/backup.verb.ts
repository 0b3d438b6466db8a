import { alertStaffOnFailedDrill, BackupIntegrityError, BackupNotFoundError, createBackupService, describeProblem, parseRestoreTarget, ResidencyError, RestoreRefusedError } from '../../backup/index.js';
import { deriveKey } from '../../crypto/root-key.js';
import { systemClock } from '../../platform/clock.js';
import { JobQueue } from '../../platform/jobs/index.js';
import { createLogger } from '../../platform/log/logger.js';
import { createMailer } from '../../platform/mail/index.js';
import { plural } from '../format.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseContext, DatabaseVerb, Json, ProgressBar } from '../verb.js';

const ACTIONS = ['create', 'list', 'verify', 'restore', 'drill', 'prune'] as const;
type Action = (typeof ACTIONS)[number];

type BackupResult = { action: Action } & { [key: string]: Json };

/** `rampart backup create|list|verify ID|restore ID --into X|drill|prune`. */
export const backupVerb: DatabaseVerb<BackupResult> = {
  name: 'backup',
  summary: 'Encrypted backups: create, list, verify, restore, drill, prune',
  usage: 'rampart backup create | list | verify <id> | restore <id> --into <DATABASE_URL | empty folder> [--files-into <empty folder>] [--override-env <reason>] | drill | prune',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 2,
  options: {
    into: { type: 'string', description: '--into <target>  restore into this empty PostgreSQL database (postgres://...) or new data folder' },
    'files-into': { type: 'string', description: '--files-into <folder>  with a PostgreSQL --into: the new or empty folder for the vault files (the restored instance\'s RAMPART_VAULT_FILE_DIR)' },
    'override-env': { type: 'string', description: '--override-env <reason>  restore a production backup into a non-production instance; the reason is recorded in the restored audit log' },
  },
  async run(context) {
    const [action, id] = context.input.positionals;
    if (!ACTIONS.includes(action as Action)) throw new UsageError(`backup: say what to do: ${ACTIONS.join(', ')}`);
    try {
      return await runAction(action as Action, id, context);
    } catch (error) {
      // Operator-facing refusals and integrity failures are one line they can act on.
      if (error instanceof BackupIntegrityError || error instanceof RestoreRefusedError || error instanceof BackupNotFoundError || error instanceof ResidencyError) throw new VerbError(error.message);
      throw error;
    }
  },
  render(result) {
    switch (result.action) {
      case 'create':
        return `Backup ${String(result.id)}: ${plural(Number(result.rows), 'row')} in ${plural(Number(result.tables), 'table')}, ${String(result.bytes)} bytes, verified on ${(result.targets as string[]).join(', ')}.`;
      case 'list': {
        const backups = result.backups as Array<Record<string, Json>>;
        if (backups.length === 0) return 'No complete backup yet (rampart backup create).';
        return backups.map((b) => `${String(b.id)}  ${String(b.engine)}  ${plural(Number(b.rows), 'row')}  ${String(b.bytes)} B  on ${(b.targets as string[]).join(', ')}`).join('\n');
      }
      case 'verify':
        return `Backup ${String(result.id)} verified: signature, hashes and every chunk's tag (${plural(Number(result.rows), 'row')}).`;
      case 'restore':
        return [
          `Restored backup ${String(result.id)}: ${plural(Number(result.rows), 'row')} in ${plural(Number(result.tables), 'table')}, schema version ${String(result.schema_version)}; row counts match the manifest.`,
          result.audit_heads_match === null ? 'The backup has no audit log.' : 'Audit chain heads match the manifest.',
          result.vault_files === null ? 'No vault files in the backup.' : `Vault files restored: ${plural(Number((result.vault_files as Record<string, Json>).blobs), 'file')}.`,
          result.erasures === null
            ? 'No erasure ledger to replay.'
            : `Erasure ledger replayed: ${plural(Number((result.erasures as Record<string, Json>).entries), 'erasure')}, ${plural(Number((result.erasures as Record<string, Json>).keys_destroyed), 'data key')} destroyed again.`,
          'Start Rampart on it with the same root key (RAMPART_ROOT_KEY or RAMPART_ROOT_KEY_FILE); it applies any newer migrations.',
        ].join('\n');
      case 'drill':
        return `Drill passed: backup ${String(result.backup_id)} restored and verified in ${(Number(result.duration_ms) / 1000).toFixed(1)} s (backup age ${String(result.backup_age_seconds)} s); result signed and recorded as ${String(result.id)}.`;
      case 'prune':
        return `Kept ${plural((result.kept as string[]).length, 'backup')}; pruned ${plural((result.pruned as string[]).length, 'backup')}.`;
    }
  },
};

async function runAction(action: Action, id: string | undefined, context: DatabaseContext): Promise<BackupResult> {
  const { config, database, rootKey } = context;
  // A failed drill mails staff as the scheduled one does: the mail goes on the durable queue, and
  // the server's worker delivers it.
  const queue = new JobQueue({ db: database.db, clock: systemClock, logger: createLogger('silent'), config: config.jobs });
  const mailer = createMailer({ queue, db: database.db, clock: systemClock, smtpUrl: config.smtpUrl, mailFrom: config.mailFrom, sealingKey: deriveKey(rootKey, 'mail') });
  const service = createBackupService({ config, database, rootKey, clock: systemClock, onDrillFailed: alertStaffOnFailedDrill(mailer, config.publicUrl) });
  const needId = (): string => {
    if (!id) throw new UsageError(`backup ${action}: name the backup, e.g. rampart backup ${action} <id> (see rampart backup list)`);
    return id;
  };
  const bars: ProgressBar[] = [];
  const progress = (label: string) => (done: number, total: number, detail: string) => {
    if (bars.length === 0) bars.push(context.report.progress(label, total));
    bars[0]!.update(done, detail);
  };
  try {
    return await dispatch();
  } finally {
    for (const bar of bars) bar.stop();
  }

  async function dispatch(): Promise<BackupResult> {
    switch (action) {
      case 'create': {
        const bars = new Map<string, ProgressBar>();
        const created = await service.create((stage, done, total, detail) => {
          let stageBar = bars.get(stage);
          if (!stageBar) bars.set(stage, (stageBar = context.report.progress(stage === 'snapshot' ? 'Backing up tables' : 'Verifying targets', total)));
          stageBar.update(done, detail);
          if (done === total) stageBar.stop();
        });
        return { action, ...created };
      }
      case 'list':
        return { action, backups: await service.list() };
      case 'verify': {
        const report = await service.verify(needId(), progress('Verifying'));
        // A failed verification exits 1, so a scheduled `rampart backup verify` can alert on it.
        if (!report.ok) throw new VerbError(`Backup ${report.id} failed verification: ${report.problems.map(describeProblem).join('; ')}`);
        return { action, id: report.id, tables: report.tables, rows: report.rows };
      }
      case 'restore': {
        const into = context.input.options.into;
        if (typeof into !== 'string' || into === '') throw new UsageError('backup restore: say where, with --into <DATABASE_URL | empty folder>');
        const reason = context.input.options['override-env'];
        if (typeof reason === 'string') context.report.note(`Environment guard overridden: ${reason}`);
        const filesInto = context.input.options['files-into'];
        const restored = await service.restore(needId(), parseRestoreTarget(into, typeof filesInto === 'string' && filesInto !== '' ? filesInto : undefined), {
          ...(typeof reason === 'string' ? { overrideReason: reason } : {}),
          onProgress: progress('Restoring tables'),
        });
        return {
          action,
          id: restored.id,
          tables: restored.tables,
          rows: restored.rows,
          schema_version: restored.schemaVersion,
          audit_heads_match: restored.auditHeadsMatch,
          vault_files: restored.vaultBlobs && { blobs: restored.vaultBlobs.blobs, bytes: restored.vaultBlobs.blob_bytes },
          erasures: restored.erasuresReplayed && { entries: restored.erasuresReplayed.entries, keys_destroyed: restored.erasuresReplayed.keysDestroyed },
        };
      }
      case 'drill': {
        const drill = await service.drill(progress('Restoring into scratch'));
        // Recorded and signed either way; a failure exits 1 so whatever ran the command can alert.
        if (drill.outcome === 'failed') throw new VerbError(`Drill FAILED (recorded as ${drill.id}): ${String((drill.details as { error?: unknown }).error)}`);
        return { action, ...drill, started_at: drill.started_at.toISOString(), details: drill.details as Json };
      }
      case 'prune':
        return { action, ...(await service.prune()) };
    }
  }
}
