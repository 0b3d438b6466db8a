import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { entriesAboutSubject } from '../../audit/index.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import type { RecordPosition, Vault } from '../../vault/index.js';
import type { Suppressions } from '../suppressions.service.js';
import * as repo from './dsr.repository.js';

/** Rows per page: each page is one short transaction, and the only part of the export in memory. */
const PAGE = 500;
export const BUNDLE_FORMAT = 'rampart-subject-export/1';

/**
 * EXTENSION POINT for the consent module (src/privacy/consent): a subject's consent state and full
 * history. app.ts passes it when that module offers it; until then the bundle says so in
 * `consents.available: false` rather than pretending there is none.
 */
export type ConsentHistorySource = (context: OrgContext, subjectId: string) => Promise<unknown>;

/** The account part when the subject is a member of the org (identity's own export, GET /v1/me/export). */
/** What the org holds about one of its members (account data of theirs limited to this org). */
export type MemberDataSource = (userId: string, tenantId: string) => Promise<Record<string, unknown>>;

export interface BundleDependencies {
  db: Kysely<DB>;
  clock: Clock;
  vault: Vault;
  suppressions: Suppressions;
  consentHistory: ConsentHistorySource | null;
  memberData: MemberDataSource;
}

export interface BundleInput {
  subjectId: string;
  request: { id: string; type: string; received_at: string } | null;
  emailHash: Buffer | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Everything held about a data subject, as one JSON document written piece by piece: records
 * (decrypted) and audit entries are read a page at a time, so memory stays flat whatever the
 * subject's size (bench/dsr.bench.ts). The document is only complete if the stream ends cleanly.
 */
export function subjectBundle(deps: BundleDependencies, context: OrgContext, input: BundleInput): Readable {
  const { tenantId } = context;
  const { subjectId } = input;
  const inTenant = <T>(work: Parameters<typeof withTenant<T>>[2]) => withTenant(deps.db, tenantId, work);

  async function* records(): AsyncGenerator<string> {
    let after: RecordPosition | null = null;
    let first = true;
    for (;;) {
      const page = await inTenant((trx) => deps.vault.subjects.recordsPage(trx, tenantId, subjectId, after, PAGE));
      for (const record of page) {
        yield (first ? '' : ',') + JSON.stringify(record);
        first = false;
      }
      if (page.length < PAGE) return;
      const last = page.at(-1)!;
      after = { collection: last.collection, key: last.key };
    }
  }

  async function* files(): AsyncGenerator<string> {
    let afterKey: string | null = null;
    let first = true;
    for (;;) {
      const page = await inTenant((trx) => deps.vault.subjects.filesPage(trx, tenantId, subjectId, afterKey, PAGE));
      for (const file of page) {
        yield (first ? '' : ',') + JSON.stringify({ ...file, download: `/v1/orgs/${tenantId}/files/${encodeURIComponent(file.key)}` });
        first = false;
      }
      if (page.length < PAGE) return;
      afterKey = page.at(-1)!.key;
    }
  }

  async function* auditEntries(): AsyncGenerator<string> {
    let afterSeq = -1;
    let first = true;
    for (;;) {
      // Personal fields decrypted under the subject's key (the IP and user agent of who acted on them).
      const page = await inTenant((trx) => entriesAboutSubject(trx, tenantId, { type: 'data_subject', id: subjectId }, { afterSeq, limit: PAGE }));
      for (const { id: _id, prev_hash: _prev, hash: _hash, ...entry } of page) {
        yield (first ? '' : ',') + JSON.stringify(entry);
        first = false;
      }
      if (page.length < PAGE) return;
      afterSeq = page.at(-1)!.seq;
    }
  }

  async function account(): Promise<Record<string, unknown> | null> {
    if (!UUID.test(subjectId)) return null;
    // Only a member of this org: the org holds its members' account data, no one else's.
    const member = await inTenant((trx) => repo.isMember(trx, tenantId, subjectId));
    return member ? deps.memberData(subjectId, tenantId) : null;
  }

  async function* document(): AsyncGenerator<string> {
    const head = { format: BUNDLE_FORMAT, generated_at: deps.clock.now().toISOString(), org_id: tenantId, subject_id: subjectId, request: input.request };
    const flags = await inTenant((trx) => deps.vault.subjects.flags(trx, tenantId, subjectId));
    // A subject being erased drops out of exports at once, like out of reads and lists.
    yield `${JSON.stringify(head).slice(0, -1)},"records":[`;
    if (!flags.erased) yield* records();
    yield '],"files":[';
    if (!flags.erased) yield* files();
    const emailHash = input.emailHash;
    const suppressed = emailHash === null ? null : await inTenant((trx) => deps.suppressions.isSuppressed(trx, tenantId, emailHash));
    yield `],"processing":${JSON.stringify({ restricted: flags.restricted, objected: flags.objected, erasure_pending: flags.erased })}`;
    yield `,"suppression":${JSON.stringify(emailHash === null ? { checked: false, suppressed: null } : { checked: true, suppressed })}`;
    const consents = deps.consentHistory ? { available: true, data: await deps.consentHistory(context, subjectId) } : { available: false, data: null };
    yield `,"consents":${JSON.stringify(consents)}`;
    yield ',"audit_entries":[';
    yield* auditEntries();
    yield `],"account":${JSON.stringify(await account())}}`;
  }

  return Readable.from(document(), { objectMode: false });
}
