import { createHmac, createPublicKey, sign, timingSafeEqual, verify } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { ChainHead, ColumnInfo, SequenceState } from './snapshot.repository.js';

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
export const BACKUP_FORMAT = 'rampart-backup/1';

export interface ManifestTable {
  name: string;
  /** File name of the table's encrypted part inside the backup folder. */
  part: string;
  columns: ColumnInfo[];
  rows: number;
  /** Size and SHA-256 (hex) of the part file as stored: checkable without any key. */
  bytes: number;
  sha256: string;
}

/** The part holding the vault's file blobs, as stored, and how many blobs and bytes it carries. */
export interface ManifestBlobs {
  part: string;
  rows: number;
  bytes: number;
  sha256: string;
  blobs: number;
  blob_bytes: number;
}

/** Everything about a backup except its signature; see docs/backup-format.md. */
export interface Manifest {
  format: typeof BACKUP_FORMAT;
  id: string;
  created_at: string;
  source: { engine: 'pglite' | 'postgres'; server_version: string; rampart_version: string; env: string };
  /** The migrations applied when the snapshot was taken: the schema version a restore rebuilds. */
  schema: Array<{ version: number; name: string; checksum: string }>;
  encryption: {
    cipher: 'AES-256-GCM';
    compression: 'gzip';
    chunk_bytes: number;
    /** The backup's random data key, sealed (src/crypto/seal.ts) with the backup key. */
    sealed_data_key: string;
    key_hierarchy: 'root/backup';
  };
  tables: ManifestTable[];
  sequences: SequenceState[];
  /** The vault's file blobs (vault-blobs.ts); absent from backups made before they were included, null without a vault. */
  vault_blobs?: ManifestBlobs | null;
  /** null when the database had no audit log yet. */
  audit_heads: ChainHead[] | null;
  signer: {
    kid: string;
    public_jwk: JsonWebKey;
    /** HMAC-SHA256 of the kid and public key under the backup key: the signer belongs to this installation. */
    endorsement: string;
  };
}

/** An Ed25519 signature over exact bytes (manifest.json, a drill statement), with the key that made it. */
export interface DetachedSignature {
  alg: 'EdDSA';
  kid: string;
  /** Ed25519 over the exact bytes (base64). */
  signature: string;
}

export type ManifestSignature = DetachedSignature;

function endorsementOf(backupKey: Buffer, kid: string, publicJwk: JsonWebKey): Buffer {
  return createHmac('sha256', backupKey).update(`rampart-backup-signer|${kid}|${String(publicJwk.x)}`).digest();
}

export function endorseSigner(backupKey: Buffer, kid: string, publicJwk: JsonWebKey): string {
  return endorsementOf(backupKey, kid, publicJwk).toString('base64');
}

/** Signs the exact bytes of a backup document (manifest.json, a drill statement). */
export function signDetached(bytes: Buffer, kid: string, privateKey: KeyObject): DetachedSignature {
  return { alg: 'EdDSA', kid, signature: sign(null, bytes, privateKey).toString('base64') };
}

/**
 * Checks the signature over the manifest's bytes with the public key the manifest names, and that
 * the key is endorsed by the backup key (so a forger cannot simply sign with a key of their own).
 * Returns what is wrong, or null.
 */
export function checkManifestSignature(bytes: Buffer, manifest: Manifest, signature: ManifestSignature, backupKey: Buffer): string | null {
  if (signature.alg !== 'EdDSA' || signature.kid !== manifest.signer.kid) return 'the signature names another key than the manifest';
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: manifest.signer.public_jwk, format: 'jwk' });
  } catch {
    return 'the signing key in the manifest is malformed';
  }
  if (!verify(null, bytes, publicKey, Buffer.from(signature.signature, 'base64'))) return 'the manifest signature does not verify (the manifest was changed)';
  const expected = endorsementOf(backupKey, manifest.signer.kid, manifest.signer.public_jwk);
  const given = Buffer.from(manifest.signer.endorsement, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the signing key is not endorsed by this backup key (wrong key, or a forged manifest)';
  return null;
}
