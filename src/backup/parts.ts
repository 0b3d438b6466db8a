import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { createPartEncryptor, decryptPart, PartIntegrityError } from './chunked-cipher.js';
import type { PartBinding } from './chunked-cipher.js';

const NEWLINE = 0x0a;

/** A row as stored: each column's PostgreSQL text form, or null. */
export type TextRow = Array<string | null>;

export interface WrittenPart {
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Writes batches of rows (any JSON values: table rows here, audit archives too) to `path` as
 * NDJSON, gzip-compressed, then encrypted in authenticated chunks; every stage streams, so memory
 * does not grow with the table.
 */
export async function writePart(path: string, batches: AsyncIterable<readonly unknown[]>, key: Buffer, binding: PartBinding): Promise<WrittenPart> {
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

export interface PartReader<T> {
  /** What the part holds; throws PartIntegrityError at the first bad chunk. */
  items: AsyncGenerator<T>;
  /** SHA-256 of the file; valid once `items` is exhausted. */
  sha256(): string;
}

/**
 * The part's NDJSON as it decompresses, each chunk authenticated before any of it is released.
 * A decryption failure surfaces as itself, not as the "unexpected end" gunzip would report.
 */
function readPlaintext(path: string, key: Buffer, binding: PartBinding): PartReader<Buffer> {
  const part = decryptPart(path, key, binding);
  async function* items(): AsyncGenerator<Buffer> {
    const plaintext = Readable.from(part.chunks);
    const gunzip = createGunzip();
    let decryptError: unknown = null;
    plaintext.on('error', (error) => {
      decryptError = error;
      gunzip.destroy(error);
    });
    try {
      for await (const chunk of plaintext.pipe(gunzip)) yield chunk as Buffer;
    } catch (error) {
      if (decryptError) throw decryptError;
      if (error instanceof PartIntegrityError) throw error;
      throw new PartIntegrityError(binding.part, null, 'the decrypted content is not valid compressed NDJSON');
    }
    if (decryptError) throw decryptError;
  }
  return { items: items(), sha256: () => part.sha256() };
}

/** Reads a part's rows back, in batches of at most `batchSize` (rows are as written: the caller checks their shape). */
export function readPart<Row = TextRow>(path: string, key: Buffer, binding: PartBinding, batchSize: number): PartReader<Row[]> {
  const plaintext = readPlaintext(path, key, binding);
  async function* items(): AsyncGenerator<Row[]> {
    // Split on the newline byte, which never occurs inside a multi-byte UTF-8 character.
    let rest: Buffer = Buffer.alloc(0);
    let batch: Row[] = [];
    for await (const chunk of plaintext.items) {
      const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let at = data.indexOf(NEWLINE); at !== -1; at = data.indexOf(NEWLINE, start)) {
        batch.push(JSON.parse(data.toString('utf8', start, at)) as Row);
        start = at + 1;
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      rest = data.subarray(start);
    }
    if (rest.length > 0) throw new PartIntegrityError(binding.part, null, 'the last row is incomplete');
    if (batch.length > 0) yield batch;
  }
  return { items: items(), sha256: plaintext.sha256 };
}

/** Counts a part's rows without parsing them (verification): every chunk is still authenticated. */
export async function countPartRows(path: string, key: Buffer, binding: PartBinding): Promise<{ rows: number; sha256: string }> {
  const plaintext = readPlaintext(path, key, binding);
  let rows = 0;
  for await (const chunk of plaintext.items) {
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) rows++;
  }
  return { rows, sha256: plaintext.sha256() };
}
