import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB, TenantTransaction } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import { recordOrgAction } from '../../tenancy/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import { lockPrivacySettings, readPrivacySettings, writePrivacySettings } from './settings.repository.js';
import type { StoredPrivacySettings } from './settings.repository.js';
import { BUILT_IN_PURPOSES } from './settings.schemas.js';
import type { PrivacySettingsChanges, PrivacySettingsView } from './settings.schemas.js';
import { settingsErrors } from './settings.errors.js';

const FIELDS = ['consent_purposes', 'allowed_origins', 'retention', 'processing', 'recipients', 'transfers', 'controller'] as const;

/** The settings as the API shows them, with the org's public id and default retention. */
export function viewOf(context: OrgContext, settings: StoredPrivacySettings): PrivacySettingsView {
  return { public_id: context.org.public_id, retention_days: context.org.retention_days, ...settings };
}

/** Every purpose an org asks consent for: the built-in ones, then its own. */
export function purposesOf(settings: StoredPrivacySettings): string[] {
  return [...BUILT_IN_PURPOSES, ...settings.consent_purposes];
}

/**
 * An org's privacy settings: consent purposes and allowed origins (consent), retention overrides
 * (retention), and its declarations for the records of processing (ropa). One row, one route.
 */
export function createPrivacySettings(deps: { db: Kysely<DB>; clock: Clock }) {
  return {
    read: (trx: TenantTransaction, tenantId: string) => readPrivacySettings(trx, tenantId),

    view(context: OrgContext): Promise<PrivacySettingsView> {
      return withTenant(deps.db, context.tenantId, async (trx) => viewOf(context, await readPrivacySettings(trx, context.tenantId)));
    },

    /** Applies the changes; the audit entry names the fields changed (values may name people: a DPO's contact). */
    update(context: OrgContext, changes: PrivacySettingsChanges, meta: RequestMeta): Promise<PrivacySettingsView> {
      const clash = changes.consent_purposes?.find((purpose) => (BUILT_IN_PURPOSES as readonly string[]).includes(purpose));
      if (clash) throw settingsErrors.built_in_purpose(`"${clash}" is built in; list only the org's own purposes`);
      return withTenant(deps.db, context.tenantId, async (trx) => {
        await lockPrivacySettings(trx, context.tenantId);
        const before = await readPrivacySettings(trx, context.tenantId);
        const after: StoredPrivacySettings = { ...before, ...changes };
        const changed = FIELDS.filter((field) => changes[field] !== undefined && JSON.stringify(before[field]) !== JSON.stringify(after[field]));
        if (changed.length > 0) {
          await writePrivacySettings(trx, context.tenantId, after, deps.clock.now());
          await recordOrgAction(trx, deps.clock.now(), context, 'privacy.settings_changed', meta, { fields: changed });
        }
        return viewOf(context, after);
      });
    },
  };
}

export type PrivacySettings = ReturnType<typeof createPrivacySettings>;
