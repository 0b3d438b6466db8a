import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { recordAuditEvent, withAuditCipher } from '../../audit/index.js';
import { createRootKeyProvider } from '../../crypto/kms.js';
import { systemClock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import { JobQueue } from '../../platform/jobs/index.js';
import { createLogger } from '../../platform/log/logger.js';
import { buildOrgZip, countBytes, createExportSections } from '../../privacy/consent-and-retention.js';
import { createKeyring, createVault } from '../../vault/index.js';
import { plural } from '../format.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseVerb, ProgressBar } from '../verb.js';

type ExportResult = { org: string; file: string; bytes: number; items: number; sections: string[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `rampart export --org ID [--out file]`: the whole-org ZIP (the same sections as
 * POST /v1/orgs/{org}/exports) written straight to a file where the verb runs, with a progress
 * bar. The operator channel, for an org leaving the vendor or a support case; audited in the org's
 * log like an owner's export.
 */
export const exportVerb: DatabaseVerb<ExportResult> = {
  name: 'export',
  summary: "Export a whole organization's data to a ZIP file (decrypted: keep it safe)",
  usage: 'rampart export --org <id> [--out <file.zip>]',
  access: 'shared',
  needsCurrentSchema: true,
  options: {
    org: { type: 'string', description: '--org <id>  the organization to export' },
    out: { type: 'string', description: '--out <file>  where to write the ZIP (default rampart-org-export-<id>-<date>.zip here); an existing file is never overwritten' },
  },
  async run({ config, database, rootKey, input, report }) {
    const org = input.options.org;
    if (typeof org !== 'string' || !UUID.test(org)) throw new UsageError('export: name the organization with --org <id> (a UUID)');
    const tenantId = org.toLowerCase();
    const exists = await withTenant(database.db, tenantId, (trx) => trx.selectFrom('tenants').select('tenant_id').where('tenant_id', '=', tenantId).executeTakeFirst());
    if (!exists) throw new VerbError(`no organization ${tenantId}`);
    const day = systemClock.now().toISOString().slice(0, 10);
    const file = resolve(typeof input.options.out === 'string' && input.options.out !== '' ? input.options.out : `rampart-org-export-${tenantId}-${day}.zip`);
    if (await stat(file).catch(() => null)) throw new VerbError(`${file} exists; choose another --out`);

    const logger = createLogger('silent');
    const keyring = createKeyring({ provider: createRootKeyProvider(config.vault.kms, rootKey), rootKey, clock: systemClock });
    // The audit log's personal fields are sealed under the vault's keys: read (and the export's own entry written) through its cipher, as the app does.
    const db = withAuditCipher(database.db, keyring);
    // A queue of its own: the verb runs no job, it only builds the vault it reads through.
    const jobs = new JobQueue({ db, clock: systemClock, logger, config: config.jobs });
    const vault = createVault({ db, config: config.vault, rootKey, clock: systemClock, jobs, logger, keyring });
    const { sections } = createExportSections({ db, clock: systemClock, vault, logger });

    let bar: ProgressBar | undefined;
    const partial = `${file}.partial`;
    const counted = { bytes: 0 };
    try {
      const result = await buildOrgZip(
        tenantId,
        sections,
        (zip) => pipeline(zip, countBytes(counted), createWriteStream(partial, { flags: 'wx', mode: 0o600 })),
        (done, total, section) => {
          bar ??= report.progress('Exporting', total);
          bar.update(done, section);
        },
      );
      await rename(partial, file);
      await recordAuditEvent(db, {
        realm: 'user',
        tenantId,
        principalId: null,
        actor: { type: 'system', id: 'cli' },
        action: 'org_export.requested',
        ip: null,
        userAgent: null,
        metadata: { export_id: randomUUID(), via: 'cli' },
        subjectId: null,
        at: systemClock.now(),
      });
      return { org: tenantId, file, bytes: counted.bytes, items: result.items, sections: result.sections };
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    } finally {
      bar?.stop();
    }
  },
  render(result) {
    return `Exported org ${result.org}: ${plural(result.items, 'item')} (${result.sections.join(', ')}), ${result.bytes} bytes, to ${result.file}. It holds decrypted personal data: keep it safe and delete it when done.`;
  },
};
