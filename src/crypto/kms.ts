import type { KmsConfig } from '../config.js';
import { AWS_KMS_PROVIDER, createLocalRootKeyProvider } from './root-key-provider.js';
import type { RootKeyProvider } from './root-key-provider.js';

/** The root key provider the configuration names (RAMPART_KMS); `local` unless told otherwise. */
export function createRootKeyProvider(kms: KmsConfig, rootKey: Buffer): RootKeyProvider {
  if (kms.provider === 'local') return createLocalRootKeyProvider(rootKey);
  // The AWS SDK is loaded on first use: it is large, and most instances (and every CLI verb but
  // `keys`) never need it.
  let loaded: Promise<RootKeyProvider> | null = null;
  const aws = () => (loaded ??= import('./aws-kms-provider.js').then((module) => module.createAwsKmsProvider(kms)));
  return {
    name: AWS_KMS_PROVIDER,
    generateTenantKey: async (tenantId) => (await aws()).generateTenantKey(tenantId),
    unwrapTenantKey: async (tenantId, wrapped) => (await aws()).unwrapTenantKey(tenantId, wrapped),
  };
}
