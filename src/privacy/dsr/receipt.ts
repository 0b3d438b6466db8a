import { compactVerify, CompactSign, importJWK } from 'jose';
import type { JWK } from 'jose';
import type { SigningKey } from '../../crypto/signing-keys.js';

export const RECEIPT_FORMAT = 'rampart-erasure-receipt/1';

export interface ErasureReceipt {
  format: typeof RECEIPT_FORMAT;
  receipt_id: string;
  issued_at: string;
  org_id: string;
  request: { id: string; received_at: string; erase_after: string | null };
  /** Only the blind index the erasure ledger holds: a receipt kept after the erasure names nobody. */
  subject: { blind_index: string };
  erased: {
    records: Record<string, number>;
    record_total: number;
    files: number;
  };
  keys: { data_keys_destroyed: number; ledger_entry: { id: string; at: string } };
  webhooks: {
    deliveries: Array<{ endpoint_id: string; event_id: string; event_type: string; attempt: number; at: string; status_code: number | null; delivered: boolean }>;
    confirmations: Array<{ at: string; actor: { type: string; id: string | null } }>;
  };
  signer: { kid: string; public_jwk: Record<string, unknown> };
}

/**
 * Signs a receipt as a compact JWS (EdDSA, the installation's 'document-seal' key): any JOSE
 * library verifies it with the key in the receipt or at /.well-known/rampart-receipt-keys.json.
 */
export async function signReceipt(receipt: ErasureReceipt, key: SigningKey): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(receipt), 'utf8')).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'rampart-erasure-receipt+jws' }).sign(key.privateKey);
}

/** What a verifier does: checks the JWS with a public key and returns the receipt it signs. */
export async function verifyReceipt(jws: string, publicJwk: JWK): Promise<ErasureReceipt> {
  const { payload } = await compactVerify(jws, await importJWK(publicJwk, 'EdDSA'));
  return JSON.parse(Buffer.from(payload).toString('utf8')) as ErasureReceipt;
}
