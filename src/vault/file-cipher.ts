import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { associatedData, encodeHeader, HEADER_BYTES, NONCE_BYTES, parseHeader, TAG_BYTES, UndecryptableError } from './envelope.js';
import type { EnvelopeContext, EnvelopeHeader } from './envelope.js';

/**
 * Encrypted files (docs/decisions/0020): the envelope header, the chunk size (4, big-endian), then
 * chunks of `nonce (12) | ciphertext (chunk size, the last one shorter) | tag (16)`. Each chunk has
 * its own nonce, and its associated data adds its index and whether it is the last: a reordered,
 * dropped or appended chunk, or a file cut at a chunk boundary, fails authentication. Memory stays
 * at about two chunks whatever the file size.
 */
export const FILE_CHUNK_BYTES = 64 * 1024;
export const FILE_HEADER_BYTES = HEADER_BYTES + 4;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

/** The header of an encrypted file: which data key, and the chunk size it was written with. */
export function readFileHeader(bytes: Buffer): EnvelopeHeader & { chunkBytes: number; raw: Buffer } {
  if (bytes.length < FILE_HEADER_BYTES) throw new UndecryptableError('file shorter than its header');
  const header = parseHeader(bytes);
  const chunkBytes = bytes.readUInt32BE(HEADER_BYTES);
  if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) throw new UndecryptableError('file header names an impossible chunk size');
  return { ...header, chunkBytes, raw: Buffer.from(bytes.subarray(0, FILE_HEADER_BYTES)) };
}

function chunkAad(fileHeader: Buffer, context: EnvelopeContext, index: number, final: boolean): Buffer {
  return associatedData(fileHeader, context, 'chunk', index, final ? 1 : 0);
}

/** A stream that encrypts what it is given into the file format, header first. */
export function createFileEncryptor(dataKey: Buffer, header: EnvelopeHeader, context: EnvelopeContext, chunkBytes = FILE_CHUNK_BYTES): Transform {
  const fileHeader = Buffer.alloc(FILE_HEADER_BYTES);
  encodeHeader(header).copy(fileHeader);
  fileHeader.writeUInt32BE(chunkBytes, HEADER_BYTES);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;

  function sealChunk(plaintext: Buffer, final: boolean): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
    cipher.setAAD(chunkAad(fileHeader, context, index++, final));
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  return new Transform({
    construct(callback) {
      this.push(fileHeader);
      callback();
    },
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      // Strictly more than a chunk: the last full chunk is held back until we know it is not the final one.
      if (pendingBytes > chunkBytes) {
        let all = Buffer.concat(pending);
        while (all.length > chunkBytes) {
          this.push(sealChunk(all.subarray(0, chunkBytes), false));
          all = all.subarray(chunkBytes);
        }
        pending = [all];
        pendingBytes = all.length;
      }
      callback();
    },
    flush(callback: TransformCallback) {
      this.push(sealChunk(Buffer.concat(pending), true));
      callback();
    },
  });
}

/**
 * A stream that decrypts the chunks of a file whose header (read before, to find the key) is
 * `fileHeader`; it is given the bytes after the header. It releases a chunk's plaintext only once
 * the chunk has authenticated, and fails with UndecryptableError on any tampering.
 */
export function createFileDecryptor(dataKey: Buffer, fileHeader: ReturnType<typeof readFileHeader>, context: EnvelopeContext): Transform {
  const sealedChunkBytes = NONCE_BYTES + fileHeader.chunkBytes + TAG_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;

  function openChunk(sealed: Buffer, final: boolean): Buffer {
    if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new UndecryptableError('file truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, sealed.subarray(0, NONCE_BYTES));
      decipher.setAAD(chunkAad(fileHeader.raw, context, index++, final));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const body = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
      decipher.final();
      return body;
    } catch {
      throw new UndecryptableError('file chunk failed authentication');
    }
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes <= sealedChunkBytes) return callback();
      try {
        let all = Buffer.concat(pending);
        while (all.length > sealedChunkBytes) {
          this.push(openChunk(all.subarray(0, sealedChunkBytes), false));
          all = all.subarray(sealedChunkBytes);
        }
        pending = [all];
        pendingBytes = all.length;
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        this.push(openChunk(Buffer.concat(pending), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
