import type { TenantTransaction } from '../../platform/db/index.js';
import type { Controller, Processing, Recipients, RetentionOverrides, Transfers } from './settings.schemas.js';

/** An org's privacy settings as stored; an org that never set any has the defaults. */
export interface StoredPrivacySettings {
  consent_purposes: string[];
  allowed_origins: string[];
  retention: RetentionOverrides;
  processing: Processing;
  recipients: Recipients;
  transfers: Transfers;
  controller: Controller;
}

const DEFAULTS: StoredPrivacySettings = { consent_purposes: [], allowed_origins: [], retention: {}, processing: {}, recipients: [], transfers: [], controller: {} };

export async function readPrivacySettings(trx: TenantTransaction, tenantId: string): Promise<StoredPrivacySettings> {
  const row = await trx.selectFrom('privacy_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  if (!row) return DEFAULTS;
  return {
    consent_purposes: row.consent_purposes,
    allowed_origins: row.allowed_origins,
    retention: row.retention_overrides as RetentionOverrides,
    processing: row.processing as Processing,
    recipients: row.recipients as Recipients,
    transfers: row.transfers as Transfers,
    controller: row.controller as Controller,
  };
}

/** Writes the whole settings row (made on first change); the caller merged the changes. */
export async function writePrivacySettings(trx: TenantTransaction, tenantId: string, settings: StoredPrivacySettings, at: Date): Promise<void> {
  const values = {
    consent_purposes: settings.consent_purposes,
    allowed_origins: settings.allowed_origins,
    retention_overrides: JSON.stringify(settings.retention),
    processing: JSON.stringify(settings.processing),
    recipients: JSON.stringify(settings.recipients),
    transfers: JSON.stringify(settings.transfers),
    controller: JSON.stringify(settings.controller),
    updated_at: at,
  };
  await trx
    .insertInto('privacy_settings')
    .values({ tenant_id: tenantId, ...values })
    .onConflict((conflict) => conflict.column('tenant_id').doUpdateSet(values))
    .execute();
}

/** Serialises settings changes of one org (read, merge, write). */
export async function lockPrivacySettings(trx: TenantTransaction, tenantId: string): Promise<void> {
  await trx.selectFrom('tenants').select('tenant_id').where('tenant_id', '=', tenantId).forUpdate().execute();
}
