import { createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RootKeyProvider } from '../crypto/root-key-provider.js';
import { deriveKey } from '../crypto/root-key.js';
import { seal, unseal } from '../crypto/seal.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { asBuffer, openEnvelope, parseHeader, sealEnvelope, UndecryptableError } from './envelope.js';
import type { EnvelopeContext, EnvelopeHeader } from './envelope.js';
import { KeyCache } from './key-cache.js';
import * as repo from './keys.repository.js';
import type { TenantKeyRow } from './keys.repository.js';

/** Thrown when data was encrypted under a data key that crypto-shredding destroyed. */
export class ErasedError extends Error {
  override readonly name = 'ErasedError';
}

/** A data key ready to encrypt with, and the header its envelopes carry. */
export interface WritingKey {
  header: EnvelopeHeader;
  key: Buffer;
}

/** Where a value goes, without the tenant (the transaction's own). */
export type Placement = Omit<EnvelopeContext, 'tenantId'>;

export interface KeyringOptions {
  provider: RootKeyProvider;
  rootKey: Buffer;
  clock: Clock;
  cache?: { maxEntries: number; maxAgeMs: number };
}

const DATA_KEY_BYTES = 32;
const DEFAULT_CACHE = { maxEntries: 10_000, maxAgeMs: 5 * 60_000 };

function dataKeyAad(tenantId: string, keyId: string): string {
  return `data-key:${tenantId}:${keyId}`;
}

/**
 * The vault's key hierarchy below the root: versioned tenant KEKs (created on first use, rotated
 * on demand), per-subject and per-tenant data keys wrapped by them, the blind index that finds a
 * subject without storing who they are, and crypto-shredding. See docs/security-model.md "Keys".
 */
export function createKeyring({ provider, rootKey, clock, cache: cacheLimits = DEFAULT_CACHE }: KeyringOptions) {
  const cache = new KeyCache(cacheLimits.maxEntries, cacheLimits.maxAgeMs, () => clock.now().getTime());
  const blindIndexRoot = deriveKey(rootKey, 'vault-blind-index');

  async function unwrapKek(row: TenantKeyRow): Promise<Buffer> {
    const id = `kek:${row.tenant_id}:${row.version}`;
    const cached = cache.get(id);
    if (cached) return cached;
    if (row.provider !== provider.name) throw new Error(`tenant key version ${row.version} was made by the ${row.provider} provider; configure it to read this data`);
    const key = await provider.unwrapTenantKey(row.tenant_id, asBuffer(row.wrapped_key));
    cache.set(id, key);
    return key;
  }

  /** The tenant's current KEK, made (version 1) on the tenant's first encryption. */
  async function currentKek(trx: TenantTransaction, tenantId: string): Promise<{ version: number; key: Buffer }> {
    let row = await repo.findCurrentTenantKey(trx, tenantId);
    if (!row) {
      await repo.lockTenantKeys(trx, tenantId);
      row = await repo.findCurrentTenantKey(trx, tenantId);
      if (!row) {
        const version = (await repo.latestTenantKeyVersion(trx, tenantId)) + 1;
        const made = await provider.generateTenantKey(tenantId);
        await repo.insertTenantKey(trx, { tenantId, version, provider: provider.name, wrapped: made.wrapped, at: clock.now() });
        cache.set(`kek:${tenantId}:${version}`, made.key);
        return { version, key: made.key };
      }
    }
    return { version: row.version, key: await unwrapKek(row) };
  }

  async function kekVersion(trx: TenantTransaction, tenantId: string, version: number): Promise<Buffer> {
    const row = await repo.findTenantKey(trx, tenantId, version);
    if (!row) throw new UndecryptableError('the tenant key version named by a data key does not exist');
    return unwrapKek(row);
  }

  /** The keyed blind index of a subject id: equal ids give equal indexes within a tenant, and nothing else. */
  function subjectIndex(tenantId: string, subjectId: string): Buffer {
    const tenantKey = Buffer.from(hkdfSync('sha256', blindIndexRoot, Buffer.alloc(0), `tenant:${tenantId}`, 32));
    return createHmac('sha256', tenantKey).update(subjectId, 'utf8').digest();
  }

  /** The live data key of a subject (or of the tenant), made on first use. */
  async function writingKey(trx: TenantTransaction, tenantId: string, index: Buffer | null): Promise<WritingKey> {
    let row = await repo.findLiveDataKey(trx, tenantId, index);
    if (!row) {
      const kek = await currentKek(trx, tenantId);
      const keyId = randomUUID();
      const key = randomBytes(DATA_KEY_BYTES);
      const inserted = await repo.insertDataKey(trx, { tenantId, keyId, subjectIndex: index, kekVersion: kek.version, wrapped: seal(kek.key, key, dataKeyAad(tenantId, keyId)), at: clock.now() });
      if (inserted) {
        cache.set(`dk:${tenantId}:${keyId}`, key);
        return { header: { keyId, kekVersion: kek.version }, key };
      }
      row = await repo.findLiveDataKey(trx, tenantId, index);
      if (!row) throw new Error('a concurrent data key insert left no live key');
    }
    return { header: { keyId: row.key_id, kekVersion: row.kek_version }, key: await unwrapDataKey(trx, row) };
  }

  async function unwrapDataKey(trx: TenantTransaction, row: repo.DataKeyRow): Promise<Buffer> {
    // Checked from the row on every use, so an erasure on one node holds on every node at once.
    if (row.destroyed_at) throw new ErasedError('the data key was destroyed');
    const id = `dk:${row.tenant_id}:${row.key_id}`;
    const cached = cache.get(id);
    if (cached) return cached;
    const kek = await kekVersion(trx, row.tenant_id, row.kek_version);
    let key: Buffer;
    try {
      key = unseal(kek, asBuffer(row.wrapped_key), dataKeyAad(row.tenant_id, row.key_id));
    } catch {
      throw new UndecryptableError('a data key did not unwrap');
    }
    cache.set(id, key);
    return key;
  }

  /** The data key an envelope (or encrypted file) names; ErasedError if it was shredded. */
  async function readingKey(trx: TenantTransaction, tenantId: string, keyId: string): Promise<Buffer> {
    const row = await repo.findDataKey(trx, tenantId, keyId);
    if (!row) throw new UndecryptableError('the data key named by the envelope does not exist in this tenant');
    return unwrapDataKey(trx, row);
  }

  return {
    subjectIndex,
    writingKey,
    readingKey,

    /** Encrypts a value of `subjectId` (null: the tenant's own data) for its place. */
    async encrypt(trx: TenantTransaction, tenantId: string, subjectId: string | null, placement: Placement, plaintext: Buffer): Promise<Buffer> {
      const { header, key } = await writingKey(trx, tenantId, subjectId === null ? null : subjectIndex(tenantId, subjectId));
      return sealEnvelope(key, header, { tenantId, ...placement }, plaintext);
    },

    /** Decrypts a value for its place; UndecryptableError if moved or altered, ErasedError if shredded. */
    async decrypt(trx: TenantTransaction, tenantId: string, placement: Placement, envelope: Uint8Array): Promise<Buffer> {
      const key = await readingKey(trx, tenantId, parseHeader(envelope).keyId);
      return openEnvelope(key, envelope, { tenantId, ...placement });
    },

    /**
     * Crypto-shredding: destroys the subject's data keys and writes the erasure ledger entry (the
     * tenant, the blind index, the time, the request id: no personal data), in the caller's transaction.
     */
    async shredSubject(trx: TenantTransaction, tenantId: string, subjectId: string, requestId: string | null): Promise<{ destroyedKeys: number; ledgerEntryId: string; at: Date }> {
      const index = subjectIndex(tenantId, subjectId);
      const at = clock.now();
      const destroyed = await repo.destroyDataKeys(trx, tenantId, index, at);
      const ledgerEntryId = randomUUID();
      await repo.insertErasure(trx, { tenantId, entryId: ledgerEntryId, subjectIndex: index, requestId, at });
      for (const keyId of destroyed) cache.delete(`dk:${tenantId}:${keyId}`);
      return { destroyedKeys: destroyed.length, ledgerEntryId, at };
    },

    /**
     * Makes a new KEK version for the tenant; new data keys are wrapped by it, old ones until
     * rewrapped. `record` writes the rotation's audit entry in the same transaction.
     */
    async rotateTenantKey(db: Kysely<DB>, tenantId: string, record?: (trx: TenantTransaction, version: number) => Promise<void>): Promise<number> {
      const version = await withTenant(db, tenantId, async (trx) => {
        await repo.lockTenantKeys(trx, tenantId);
        const next = (await repo.latestTenantKeyVersion(trx, tenantId)) + 1;
        const made = await provider.generateTenantKey(tenantId);
        const at = clock.now();
        await repo.insertTenantKey(trx, { tenantId, version: next, provider: provider.name, wrapped: made.wrapped, at });
        await repo.retireTenantKeysBefore(trx, tenantId, next, at);
        await record?.(trx, next);
        return next;
      });
      cache.deletePrefix(`kek:${tenantId}:`);
      cache.deletePrefix(`dk:${tenantId}:`);
      return version;
    },

    /**
     * Rewraps up to `limit` of the tenant's data keys still under an older KEK to the current
     * one. Only the wrapped data keys change, never a record's ciphertext. Returns what is left.
     */
    async rewrapBatch(db: Kysely<DB>, tenantId: string, limit: number): Promise<{ rewrapped: number; remaining: number }> {
      return withTenant(db, tenantId, async (trx) => {
        const current = await repo.findCurrentTenantKey(trx, tenantId);
        if (!current) return { rewrapped: 0, remaining: 0 };
        const currentKey = await unwrapKek(current);
        const stale = await repo.lockStaleDataKeys(trx, tenantId, current.version, limit);
        for (const row of stale) {
          const key = unseal(await kekVersion(trx, tenantId, row.kek_version), asBuffer(row.wrapped_key), dataKeyAad(tenantId, row.key_id));
          await repo.updateDataKeyWrapping(trx, tenantId, row.key_id, current.version, seal(currentKey, key, dataKeyAad(tenantId, row.key_id)));
        }
        return { rewrapped: stale.length, remaining: await repo.countStaleDataKeys(trx, tenantId, current.version) };
      });
    },

    /** The cache, for tests and the benchmark. */
    cache,
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
