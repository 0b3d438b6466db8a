import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { exportEntries, listCheckpoints } from '../../audit/index.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import { ROLE_PERMISSIONS } from '../../tenancy/index.js';
import type { OrgData, OrgRecordPosition } from '../../vault/index.js';
import type { Consents } from '../consent/consent.service.js';
import type { PrivacySettings } from '../settings/settings.service.js';
import * as repo from './org-export.repository.js';

/** One file of the ZIP: its path and, when its turn comes, its bytes. */
export interface ExportEntry {
  path: string;
  open(): Promise<Readable>;
}

/**
 * A part of the whole-org export. Sections are a list (exportSections): a new kind of org data is
 * one more section, and the builder, the progress and the manifest follow. `items` is what the
 * section counts toward progress (records, files, entries); `entries` yields its files lazily, so
 * only the entry being written is ever open.
 */
export interface ExportSection {
  name: string;
  items(tenantId: string): Promise<number>;
  entries(tenantId: string, tick: (items: number) => void): AsyncIterable<ExportEntry>;
}

export interface SectionDependencies {
  db: Kysely<DB>;
  orgData: OrgData;
  consents: Consents;
  settings: PrivacySettings;
}

// Rows per read: one short transaction each, so memory stays flat and no transaction stays open while the ZIP is written.
const BATCH = 500;

const json = (path: string, value: () => Promise<unknown>): ExportEntry => ({ path, open: async () => Readable.from([`${JSON.stringify(await value(), null, 2)}\n`]) });

/** An NDJSON file from pages of rows, counting each row as an item. */
function ndjson<T>(path: string, rows: () => AsyncIterable<T>, tick: (items: number) => void): ExportEntry {
  async function* lines() {
    for await (const row of rows()) {
      tick(1);
      yield `${JSON.stringify(row)}\n`;
    }
  }
  return { path, open: async () => Readable.from(lines()) };
}

const none = async () => 0;

/** The rows of the data-subject requests table, as the DSR module shows a request (subject id unsealed). */
export type DsrRequestView = (row: Awaited<ReturnType<typeof repo.pageDsrRequests>>[number]) => unknown;

/** The data-subject requests section: built with the DSR module's view of a request, once that module exists. */
export function dsrRequestsSection(db: Kysely<DB>, view: DsrRequestView): ExportSection {
  return {
    name: 'data-subject requests',
    items: none,
    async *entries(tenantId) {
      yield ndjson(
        'privacy/dsr_requests.ndjson',
        async function* () {
          for (let after: string | null = null; ; ) {
            const page = await withTenant(db, tenantId, (trx) => repo.pageDsrRequests(trx, tenantId, after, BATCH));
            yield* page.map(view);
            if (page.length < BATCH) return;
            after = page.at(-1)!.request_id;
          }
        },
        () => {},
      );
    },
  };
}

/** The sections of a whole-org export, in ZIP order. */
export function exportSections(deps: SectionDependencies): ExportSection[] {
  const { db, orgData } = deps;
  const inTenant = <T>(tenantId: string, work: Parameters<typeof withTenant<T>>[2]) => withTenant(db, tenantId, work);

  return [
    {
      name: 'organization',
      items: none,
      async *entries(tenantId) {
        yield json('organization/settings.json', () =>
          inTenant(tenantId, async (trx) => {
            const org = await repo.readOrg(trx, tenantId);
            return { ...org, created_at: org.created_at.toISOString(), privacy: await deps.settings.read(trx, tenantId) };
          }),
        );
        yield json('organization/members.json', async () => {
          const memberships = await inTenant(tenantId, (trx) => repo.listMemberships(trx, tenantId));
          const users = new Map((await repo.describeUsers(db, memberships.map((m) => m.user_id))).map((user) => [user.id, user]));
          return memberships.map((m) => ({ user_id: m.user_id, email: users.get(m.user_id)?.email ?? null, name: users.get(m.user_id)?.name ?? null, role: m.role, joined_at: m.created_at.toISOString() }));
        });
        yield json('organization/roles.json', async () => Object.fromEntries(Object.entries(ROLE_PERMISSIONS).map(([role, permissions]) => [role, [...permissions].sort()])));
        yield json('organization/api_keys.json', () => inTenant(tenantId, (trx) => repo.listApiKeys(trx, tenantId)));
        yield json('organization/legal_holds.json', () => inTenant(tenantId, (trx) => repo.listLegalHolds(trx, tenantId)));
      },
    },
    {
      name: 'records',
      items: (tenantId) => inTenant(tenantId, async (trx) => (await orgData.counts(trx, tenantId)).records),
      async *entries(tenantId, tick) {
        yield ndjson(
          'vault/records.ndjson',
          async function* () {
            for (let after: OrgRecordPosition | null = null; ; ) {
              const page = await inTenant(tenantId, (trx) => orgData.recordsPage(trx, tenantId, after, BATCH));
              yield* page.records;
              if (!page.last) return;
              after = page.last;
            }
          },
          tick,
        );
      },
    },
    {
      name: 'files',
      items: (tenantId) => inTenant(tenantId, async (trx) => (await orgData.counts(trx, tenantId)).files),
      async *entries(tenantId, tick) {
        const pages = async function* () {
          for (let after: string | null = null; ; ) {
            const page = await inTenant(tenantId, (trx) => orgData.filesPage(trx, tenantId, after, BATCH));
            yield* page;
            if (page.length < BATCH) return;
            after = page.at(-1)!.key;
          }
        };
        // The listing first (metadata, no ticks), then each file's plaintext under files/.
        yield ndjson('vault/files.ndjson', async function* () {
          for await (const file of pages()) yield { key: file.key, size: file.size, content_type: file.content_type, created_at: file.created_at, updated_at: file.updated_at, path: `vault/files/${file.key}` };
        }, () => {});
        for await (const file of pages()) {
          yield { path: `vault/files/${file.key}`, open: () => orgData.readFile(tenantId, file).finally(() => tick(1)) };
        }
      },
    },
    {
      name: 'consents',
      items: (tenantId) => deps.consents.count(tenantId),
      async *entries(tenantId, tick) {
        yield ndjson('privacy/consents.ndjson', () => deps.consents.everyConsent(tenantId, BATCH), tick);
      },
    },
    {
      name: 'audit',
      items: (tenantId) => inTenant(tenantId, (trx) => repo.auditSize(trx, tenantId)),
      async *entries(tenantId, tick) {
        // Up to the head as it is now: entries the export itself adds later are not part of it.
        const size = await inTenant(tenantId, (trx) => repo.auditSize(trx, tenantId));
        yield ndjson('audit/entries.ndjson', () => exportEntries(db, tenantId, {}, size), tick);
        yield ndjson(
          'audit/checkpoints.ndjson',
          async function* () {
            for (let before: number | undefined = undefined; ; ) {
              const page = await inTenant(tenantId, (trx) => listCheckpoints(trx, tenantId, { limit: BATCH, ...(before === undefined ? {} : { beforeSize: before }) }));
              yield* page;
              if (page.length < BATCH) return;
              before = page.at(-1)!.size;
            }
          },
          () => {},
        );
      },
    },
  ];
}
