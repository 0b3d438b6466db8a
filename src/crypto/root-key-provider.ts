import { randomBytes } from 'node:crypto';
import { deriveKey } from './root-key.js';
import { seal, unseal } from './seal.js';

/** A fresh tenant key-encryption key and the wrapped form of it that is stored. */
export interface GeneratedTenantKey {
  key: Buffer;
  wrapped: Buffer;
}

/**
 * The top of the vault's key hierarchy: it makes and unwraps tenant key-encryption keys, bound to
 * their tenant (an encryption context / associated data naming it), so a wrapped key copied to
 * another tenant does not unwrap. The root material itself never leaves the provider.
 */
export interface RootKeyProvider {
  /** Stored beside each wrapped key, so a change of provider never misreads old keys. */
  readonly name: string;
  generateTenantKey(tenantId: string): Promise<GeneratedTenantKey>;
  unwrapTenantKey(tenantId: string, wrapped: Buffer): Promise<Buffer>;
}

const KEK_BYTES = 32;

/** The name AWS KMS wraps are stored under (tenant_keys.provider). */
export const AWS_KMS_PROVIDER = 'aws-kms';

function tenantContext(tenantId: string): string {
  return `tenant-kek:${tenantId}`;
}

/**
 * The default provider: tenant keys wrapped with AES-256-GCM under a key derived from the local
 * root key (file or RAMPART_ROOT_KEY, never in the database; docs/decisions/0009).
 */
export function createLocalRootKeyProvider(rootKey: Buffer): RootKeyProvider {
  const wrappingKey = deriveKey(rootKey, 'tenant-keys');
  return {
    name: 'local',
    async generateTenantKey(tenantId) {
      const key = randomBytes(KEK_BYTES);
      return { key, wrapped: seal(wrappingKey, key, tenantContext(tenantId)) };
    },
    async unwrapTenantKey(tenantId, wrapped) {
      return unseal(wrappingKey, wrapped, tenantContext(tenantId));
    },
  };
}
