import type { KmsConfig } from '../config.js';
import { createAwsKmsProvider } from './aws-kms-provider.js';
import { createLocalRootKeyProvider } from './root-key-provider.js';
import type { RootKeyProvider } from './root-key-provider.js';

/** The root key provider the configuration names (RAMPART_KMS); `local` unless told otherwise. */
export function createRootKeyProvider(kms: KmsConfig, rootKey: Buffer): RootKeyProvider {
  if (kms.provider === 'aws') return createAwsKmsProvider(kms);
  return createLocalRootKeyProvider(rootKey);
}
