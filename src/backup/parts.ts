import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { createPartEncryptor, decryptPart, PartIntegrityError } from './chunked-cipher.js';
import type { PartBinding } from './chunked-cipher.js';

/** A row as stored: each column's PostgreSQL text form, or null. */
export type TextRow = Array<string | null>;

export interface WrittenPart {
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Writes batches of rows to `path` as NDJSON, gzip-compressed, then encrypted in authenticated
 * chunks; every stage streams, so memory does not grow with the table.
 */
export async function writePart(path: string, batches: AsyncIterable<TextRow[]>, key: Buffer, binding: PartBinding): Promise<WrittenPart> {
  let rows = 0;
  let bytes = 0;
  const hash = createHash('sha256');
  async function* lines(): AsyncGenerator<Buffer> {
    for await (const batch of batches) {
      rows += batch.length;
      yield Buffer.from(batch.map((row) => `${JSON.stringify(row)}\n`).join(''), 'utf8');
    }
  }
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(Readable.from(lines()), createGzip(), createPartEncryptor(key, binding), measure, createWriteStream(path, { mode: 0o600, flags: 'wx' }));
  return { rows, bytes, sha256: hash.digest('hex') };
}

export interface PartReader {
  /** The rows, in batches of at most `batchSize`; throws PartIntegrityError at the first bad chunk. */
  batches: AsyncGenerator<TextRow[]>;
  /** SHA-256 of the file; valid once `batches` is exhausted. */
  sha256(): string;
}

/** Reads a part back: each chunk is authenticated before any of its rows is released. */
export function readPart(path: string, key: Buffer, binding: PartBinding, batchSize: number): PartReader {
  const part = decryptPart(path, key, binding);
  async function* batches(): AsyncGenerator<TextRow[]> {
    const plaintext = Readable.from(part.chunks);
    const gunzip = createGunzip();
    // Errors of the decryptor must surface as what they are, not as a gunzip "unexpected end".
    let decryptError: unknown = null;
    plaintext.on('error', (error) => {
      decryptError = error;
      gunzip.destroy(error);
    });
    const lines = createInterface({ input: plaintext.pipe(gunzip), crlfDelay: Infinity });
    let batch: TextRow[] = [];
    try {
      for await (const line of lines) {
        batch.push(JSON.parse(line) as TextRow);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    } catch (error) {
      if (decryptError) throw decryptError;
      if (error instanceof PartIntegrityError) throw error;
      throw new PartIntegrityError(binding.part, null, 'the decrypted content is not valid compressed NDJSON');
    }
    if (decryptError) throw decryptError;
    if (batch.length > 0) yield batch;
  }
  return { batches: batches(), sha256: () => part.sha256() };
}
