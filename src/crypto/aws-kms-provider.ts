import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { AWS_KMS_PROVIDER } from './root-key-provider.js';
import type { GeneratedTenantKey, RootKeyProvider } from './root-key-provider.js';

export interface AwsKmsSettings {
  keyId: string;
  region: string;
  /** A KMS-compatible endpoint instead of AWS's own (a private endpoint, a test double). */
  endpoint: string | null;
}

/**
 * Tenant keys made by AWS KMS (GenerateDataKey, AES-256) under the customer master key `keyId`,
 * with the encryption context {tenant}: KMS refuses to decrypt a wrapped key presented for another
 * tenant, and CloudTrail names the tenant on every use. Credentials come from the SDK's default
 * chain (environment, instance profile, web identity), never from Rampart's configuration.
 */
export function createAwsKmsProvider(settings: AwsKmsSettings, client = new KMSClient({ region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) })): RootKeyProvider {
  return {
    name: AWS_KMS_PROVIDER,
    async generateTenantKey(tenantId): Promise<GeneratedTenantKey> {
      const result = await client.send(new GenerateDataKeyCommand({ KeyId: settings.keyId, KeySpec: 'AES_256', EncryptionContext: { tenant: tenantId } }));
      if (!result.Plaintext || !result.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no key');
      return { key: Buffer.from(result.Plaintext), wrapped: Buffer.from(result.CiphertextBlob) };
    },
    async unwrapTenantKey(tenantId, wrapped) {
      const result = await client.send(new DecryptCommand({ KeyId: settings.keyId, CiphertextBlob: wrapped, EncryptionContext: { tenant: tenantId } }));
      if (!result.Plaintext) throw new Error('KMS Decrypt returned no key');
      return Buffer.from(result.Plaintext);
    },
  };
}
