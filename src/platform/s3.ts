import { S3Client } from '@aws-sdk/client-s3';

/** Where objects go in an S3-compatible store: shared by off-site backups and vault files. */
export interface S3Location {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint instead of AWS's (path-style addressing then); null for AWS. */
  endpoint: string | null;
  /** Key prefix of every object (`rampart/` puts them under rampart/...). */
  prefix: string;
  /** Static credentials; null uses the AWS SDK's default chain (AWS_* variables, profile, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
}

/** A client for `location`, through the official SDK. */
export function createS3Client(location: S3Location): S3Client {
  return new S3Client({
    region: location.region,
    ...(location.endpoint ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
    ...(location.credentials ? { credentials: location.credentials } : {}),
    // Integrity is Rampart's own (GCM tags per chunk, SHA-256 per backup part); the SDK's default
    // streamed trailing checksums are not understood by every S3-compatible server, some of which
    // would store the chunk framing as object bytes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
