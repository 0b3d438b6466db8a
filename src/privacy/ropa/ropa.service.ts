import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import type { RetentionOverrides } from '../settings/settings.schemas.js';
import { purposesOf } from '../settings/settings.service.js';
import type { PrivacySettings } from '../settings/settings.service.js';
import * as repo from './ropa.repository.js';
import type { Ropa } from './ropa.schemas.js';

/** What Rampart itself does to every record it holds (Art. 30(1)(g) "general description of the technical and organisational security measures"). */
const SECURITY_MEASURES = [
  'Encryption at rest: AES-256-GCM envelope encryption, one data key per data subject, wrapped by a per-organization key under a root key kept outside the database (KMS).',
  'Erasure by crypto-shredding: destroying a subject\'s data key makes their data unreadable everywhere, backups included.',
  'Tenant isolation enforced by the database (row-level security) on every table.',
  'Access control by role and scoped API keys; MFA policy per organization; step-up sign-in for exports.',
  'Append-only, hash-chained audit log with signed checkpoints; reads of personal data are logged.',
  'Encrypted, verified backups with regular restore drills.',
  'TLS for every connection; strict security headers.',
];

function retentionOf(overrides: RetentionOverrides, orgDays: number, collection: string, category: string): Ropa['files']['retention'] {
  const byCollection = overrides.collections?.[collection];
  if (byCollection !== undefined) return { days: byCollection, source: 'collection' };
  const byCategory = overrides.categories?.[category];
  if (byCategory !== undefined) return { days: byCategory, source: 'category' };
  return { days: orgDays, source: 'org' };
}

/**
 * The record of processing activities (GDPR Art. 30) generated from what Rampart knows: the
 * vault's collections and their categories, the purposes and legal bases the org declared per
 * collection, retention as configured, and the recipients and transfers the org declared. Nothing
 * is invented: what is not declared says so.
 */
export function createRopa(deps: { db: Kysely<DB>; clock: Clock; settings: PrivacySettings }) {
  return {
    async generate(context: OrgContext): Promise<Ropa> {
      const { tenantId, org } = context;
      return withTenant(deps.db, tenantId, async (trx) => {
        const settings = await deps.settings.read(trx, tenantId);
        const held = await repo.collectionCategories(trx, tenantId);
        const names = [...new Set([...held.map((row) => row.collection), ...Object.keys(settings.processing)])].sort();
        const activities = names.map((collection) => {
          const declared = settings.processing[collection];
          const rows = held.filter((row) => row.collection === collection);
          return {
            collection,
            purposes: declared?.purposes ?? [],
            legal_basis: declared?.legal_basis ?? null,
            data_subjects: declared?.data_subjects ?? [],
            categories_of_data: rows.map((row) => ({ category: row.category, records: row.records, retention: retentionOf(settings.retention, org.retention_days, collection, row.category) })),
            records: rows.reduce((sum, row) => sum + row.records, 0),
            records_with_subject: rows.reduce((sum, row) => sum + row.with_subject, 0),
            declared: declared !== undefined,
          };
        });
        return {
          title: `Record of processing activities (GDPR Art. 30): ${org.name}`,
          generated_at: deps.clock.now().toISOString(),
          controller: { organization: org.name, name: settings.controller.name ?? null, contact: settings.controller.contact ?? null, dpo: settings.controller.dpo ?? null },
          processing_activities: activities,
          files: { count: await repo.fileCount(trx, tenantId), retention: settings.retention.files !== undefined ? { days: settings.retention.files, source: 'collection' } : { days: org.retention_days, source: 'org' } },
          consent: { purposes: purposesOf(settings), subjects_with_records: await repo.consentSubjects(trx, tenantId) },
          recipients: {
            configured: settings.recipients.length > 0,
            list: settings.recipients,
            note: settings.recipients.length > 0 ? 'As declared by the organization in its privacy settings.' : 'None configured: declare processors and other recipients in the privacy settings (recipients).',
          },
          transfers_outside_eu: {
            configured: settings.transfers.length > 0,
            list: settings.transfers,
            note: settings.transfers.length > 0 ? 'As declared by the organization, with their safeguards (Art. 46).' : 'None: no transfer outside the EU/EEA is configured.',
          },
          security_measures: SECURITY_MEASURES,
        };
      });
    },
  };
}

export type RopaGenerator = ReturnType<typeof createRopa>;
