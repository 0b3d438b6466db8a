import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Principal } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import type { DB } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import type { OrgContext } from '../tenancy/index.js';
import type { Vault } from '../vault/index.js';
import { privacyAssetRoutes } from './banner/banner.routes.js';
import { consentRoutes } from './consent/consent.routes.js';
import { createConsents } from './consent/consent.service.js';
import { orgExportRoutes } from './org-export/org-export.routes.js';
import { createOrgExports } from './org-export/org-export.service.js';
import { dsrRequestsSection, exportSections } from './org-export/sections.js';
import type { DsrRequestView } from './org-export/sections.js';
import { legalHoldRoutes } from './retention/retention.routes.js';
import { createRetention } from './retention/retention.service.js';
import { ropaRoutes } from './ropa/ropa.routes.js';
import { createRopa } from './ropa/ropa.service.js';
import { privacySettingsRoutes } from './settings/settings.routes.js';
import { createPrivacySettings } from './settings/settings.service.js';

/** The ZIP builder, for `rampart export`. */
export { buildOrgZip, countBytes } from './org-export/build-zip.js';

export interface ConsentAndRetentionDependencies {
  db: Kysely<DB>;
  clock: Clock;
  vault: Pick<Vault, 'orgData' | 'encryptForSubject' | 'decrypt' | 'subjectIndex'>;
  logger: Logger;
}

/** The parts the CLI reuses without an app: settings, consents and the export's sections. */
export function createExportSections(deps: ConsentAndRetentionDependencies) {
  const settings = createPrivacySettings({ db: deps.db, clock: deps.clock });
  const consents = createConsents({ db: deps.db, clock: deps.clock, vault: deps.vault, settings });
  return { settings, consents, sections: exportSections({ db: deps.db, orgData: deps.vault.orgData, consents, settings }) };
}

/**
 * Consent, the consent banner, retention and legal holds, records of processing (ROPA) and
 * whole-org exports: the privacy module's org-wide half (data-subject requests are src/privacy/dsr).
 */
export function createConsentAndRetention(deps: ConsentAndRetentionDependencies & { jobs: JobQueue; stepUp: (principal: Principal, password: string | undefined, meta: RequestMeta) => Promise<void> }) {
  const { settings, consents, sections } = createExportSections(deps);
  const retention = createRetention({ db: deps.db, clock: deps.clock, orgData: deps.vault.orgData, settings, logger: deps.logger });
  const ropa = createRopa({ db: deps.db, clock: deps.clock, settings });
  const exports = createOrgExports({ db: deps.db, clock: deps.clock, jobs: deps.jobs, orgData: deps.vault.orgData, sections, stepUp: deps.stepUp, logger: deps.logger });
  const schedules = [retention.register(deps.jobs), exports.register(deps.jobs)];

  return {
    retention,
    exports,
    /** Adds the data-subject requests to whole-org exports, shown as the DSR module shows them (app.ts, once that module exists). */
    exportDsrRequests: (view: DsrRequestView) => sections.push(dsrRequestsSection(deps.db, view)),
    /** A subject's consent history, for data-subject access requests (src/privacy/dsr's extension point). */
    consentHistory: (context: OrgContext, subjectId: string) => consents.historyOf(context, subjectId),
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      app.addHook('onReady', async () => {
        // A database that is down at start must not stop the app from starting (readiness says 503).
        for (const schedule of schedules) await schedule().catch((error: unknown) => app.log.warn({ err: error }, 'privacy schedules not set yet'));
      });
      await app.register(privacySettingsRoutes, { settings, requireUserOrKey });
      await app.register(consentRoutes, { consents, requireUserOrKey });
      await app.register(privacyAssetRoutes);
      await app.register(legalHoldRoutes, { retention, requireUserOrKey });
      await app.register(ropaRoutes, { ropa, requireUserOrKey });
      await app.register(orgExportRoutes, { exports, requireUserOrKey });
    },
  };
}
