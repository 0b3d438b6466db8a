import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, Transaction, UnknownRow } from 'kysely';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { openEnvelope, parseHeader, sealEnvelope } from '../vault/envelope.js';
import { ErasedError } from '../vault/keyring.js';
import { findLiveDataKey } from '../vault/keys.repository.js';
import type { Keyring, WritingKey } from '../vault/keyring.js';
import { encodePersonal } from './canonical.js';
import { withLocalSetting } from './chain.js';

/**
 * Carries the vault's keyring on a Kysely handle, and so on every transaction opened from it.
 * Audit entries are written from every module, through `recordAuditEvent(trx, event)`, inside the
 * action's own transaction; the transaction is the one thing all those call sites share, so the
 * cipher rides on it instead of being threaded through twenty call sites
 * (docs/decisions/0022-audit-personal-fields-encrypted.md). It changes no query.
 */
class AuditPersonalCipher implements KyselyPlugin {
  constructor(readonly keyring: Keyring) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/** `db` with the keyring that encrypts and decrypts the audit log's personal fields. */
export function withAuditCipher(db: Kysely<DB>, keyring: Keyring): Kysely<DB> {
  return db.withPlugin(new AuditPersonalCipher(keyring));
}

function keyringOf(executor: Kysely<DB> | Transaction<DB>): Keyring {
  const plugin = executor.getExecutor().plugins.find((candidate) => candidate instanceof AuditPersonalCipher);
  if (!plugin) throw new Error('audit personal fields need the vault keyring: open the database through withAuditCipher (buildApp does)');
  return plugin.keyring;
}

/** The collection personal fields are encrypted for: their envelope names the entry it belongs to. */
const PLACE = { collection: '_audit', field: 'personal' } as const;

/**
 * Whose key an entry's personal fields go under. Rampart's own users and a host application's
 * data subjects share a tenant's key space, so users are namespaced: a host subject that happens to
 * be named like a user id must not share that user's key.
 */
export type AuditSubject = { type: 'user'; id: string } | { type: 'data_subject'; id: string } | null;

function subjectKey(subject: AuditSubject): string | null {
  if (subject === null) return null;
  return subject.type === 'user' ? `rampart-user:${subject.id}` : subject.id;
}

export interface SealedPersonal {
  /** The stored personal column: an envelope under the subject's data key, or null. */
  personal: Buffer | null;
  /** The stored subject column: the keyed blind index (hex), never the subject id itself. */
  subjectId: string | null;
}

export interface PersonalFields {
  entryId: string;
  subject: AuditSubject;
  fields: Record<string, unknown>;
}

/**
 * Encrypts entries' personal fields for chain `tenantId`, each under its subject's data key (the
 * tenant's own key when it has no subject) and bound to its entry id: crypto-shredding the subject
 * makes them unreadable while the hash, taken over the stored bytes, still verifies. Each data key
 * is looked up once per call, however many entries share it (a host-event batch shares one).
 */
export async function sealPersonal(trx: Transaction<DB>, tenantId: string, items: readonly PersonalFields[]): Promise<SealedPersonal[]> {
  const keyring = keyringOf(trx);
  // The key tables are tenant-scoped; an identity transaction writing an org's chain has no scope.
  return withLocalSetting(trx, 'rampart.tenant_id', tenantId, async () => {
    const keys = new Map<string | null, Promise<WritingKey>>();
    const sealed: SealedPersonal[] = [];
    for (const { entryId, subject, fields } of items) {
      const key = subjectKey(subject);
      const index = key === null ? null : keyring.subjectIndex(tenantId, key);
      const plaintext = encodePersonal(fields);
      let personal: Buffer | null = null;
      if (plaintext !== null) {
        if (!keys.has(key)) keys.set(key, keyring.writingKey(trx as TenantTransaction, tenantId, index));
        const writing = await keys.get(key)!;
        personal = sealEnvelope(writing.key, writing.header, { tenantId, ...PLACE, recordKey: entryId }, plaintext);
      }
      sealed.push({ personal, subjectId: index === null ? null : index.toString('hex') });
    }
    return sealed;
  });
}

/** The stored subject column for a subject, to find the entries about them. */
export function auditSubjectIndex(executor: Kysely<DB> | Transaction<DB>, tenantId: string, subject: NonNullable<AuditSubject>): string {
  return keyringOf(executor).subjectIndex(tenantId, subjectKey(subject)!).toString('hex');
}

export type OpenedPersonal = { erased: false; fields: Record<string, unknown> } | { erased: true; fields: Record<string, never> };

/**
 * Decrypts entries' personal fields, in order; `erased` for an entry whose subject's key was
 * destroyed. Each data key is read once per call.
 */
export async function openPersonal(trx: TenantTransaction, tenantId: string, items: ReadonlyArray<{ entryId: string; personal: Uint8Array | null }>): Promise<OpenedPersonal[]> {
  const keyring = keyringOf(trx);
  const keys = new Map<string, Promise<Buffer | null>>();
  const readingKey = (keyId: string) =>
    keyring.readingKey(trx, tenantId, keyId).catch((error: unknown) => {
      if (error instanceof ErasedError) return null;
      throw error;
    });
  const opened: OpenedPersonal[] = [];
  for (const { entryId, personal } of items) {
    if (personal === null) {
      opened.push({ erased: false, fields: {} });
      continue;
    }
    const keyId = parseHeader(personal).keyId;
    if (!keys.has(keyId)) keys.set(keyId, readingKey(keyId));
    const key = await keys.get(keyId)!;
    if (key === null) {
      opened.push({ erased: true, fields: {} });
      continue;
    }
    const plaintext = openEnvelope(key, personal, { tenantId, ...PLACE, recordKey: entryId });
    opened.push({ erased: false, fields: JSON.parse(plaintext.toString('utf8')) as Record<string, unknown> });
  }
  return opened;
}

/**
 * Erases a Rampart user's personal fields from every chain (account purge): destroys their data
 * key in each of `tenants` that has one (`listTenantsWithKeys`, read before the purge's
 * transaction: PGlite has one connection), which writes that tenant's erasure ledger entry. The
 * entries stay, and keep verifying.
 */
export async function eraseUserFromAudit(trx: Transaction<DB>, userId: string, tenants: readonly string[]): Promise<number> {
  const keyring = keyringOf(trx);
  const key = subjectKey({ type: 'user', id: userId })!;
  let destroyed = 0;
  for (const tenantId of tenants) {
    destroyed += await withLocalSetting(trx, 'rampart.tenant_id', tenantId, async () => {
      const scoped = trx as TenantTransaction;
      if (!(await findLiveDataKey(scoped, tenantId, keyring.subjectIndex(tenantId, key)))) return 0;
      return (await keyring.shredSubject(scoped, tenantId, key, null)).destroyedKeys;
    });
  }
  return destroyed;
}
