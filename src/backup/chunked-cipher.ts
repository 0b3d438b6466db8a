import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/**
 * The encrypted part layout (docs/backup-format.md): an 8-byte magic, then frames of
 * `u32be ciphertext length | 12-byte nonce | ciphertext | 16-byte GCM tag`. Each frame's
 * associated data names the backup, the part, the frame's index and whether it is the last one,
 * so a frame moved, reordered, duplicated or cut off no longer authenticates.
 */
export const PART_MAGIC = Buffer.from('RMPBAK01', 'ascii');
export const CHUNK_PLAINTEXT_BYTES = 64 * 1024;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FRAME_HEAD_BYTES = 4 + NONCE_BYTES;
const TRUNCATED = 'missing: the file ends before its final chunk (truncated)';

/** Where a part belongs; bound into every frame's associated data. */
export interface PartBinding {
  backupId: string;
  part: string;
}

function frameAad({ backupId, part }: PartBinding, index: number, final: boolean): Buffer {
  return Buffer.from(`rampart-backup/1|${backupId}|${part}|${index}|${final ? 1 : 0}`, 'utf8');
}

function sealFrame(key: Buffer, binding: PartBinding, index: number, final: boolean, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(frameAad(binding, index, final));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(ciphertext.length);
  return Buffer.concat([length, nonce, ciphertext, cipher.getAuthTag()]);
}

/**
 * A stream that encrypts what flows through it into frames of CHUNK_PLAINTEXT_BYTES, holding at
 * most one chunk in memory. The last frame (possibly empty) carries the final flag.
 */
export function createPartEncryptor(key: Buffer, binding: PartBinding): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  const takeChunk = (size: number): Buffer => {
    const all = Buffer.concat(pending, pendingBytes);
    const chunk = all.subarray(0, size);
    const rest = all.subarray(size);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    return chunk;
  };
  return new Transform({
    construct(callback) {
      this.push(PART_MAGIC);
      callback();
    },
    transform(data: Buffer, _encoding, callback: TransformCallback) {
      pending.push(data);
      pendingBytes += data.length;
      // Strictly more than a chunk: the last full chunk waits, in case it is also the final one.
      while (pendingBytes > CHUNK_PLAINTEXT_BYTES) this.push(sealFrame(key, binding, index++, false, takeChunk(CHUNK_PLAINTEXT_BYTES)));
      callback();
    },
    flush(callback: TransformCallback) {
      this.push(sealFrame(key, binding, index++, true, takeChunk(pendingBytes)));
      callback();
    },
  });
}

/** A precise integrity failure: which part, and which frame when the failure is inside one. */
export class PartIntegrityError extends Error {
  override readonly name = 'PartIntegrityError';

  constructor(
    readonly part: string,
    readonly chunk: number | null,
    readonly problem: string,
  ) {
    super(`${part}${chunk === null ? '' : `, chunk ${chunk}`}: ${problem}`);
  }
}

export interface DecryptedPart {
  /** The authenticated plaintext, frame by frame; throws PartIntegrityError at the first bad frame. */
  chunks: AsyncGenerator<Buffer>;
  /** SHA-256 (hex) of the whole file as read; valid once `chunks` has been consumed to the end. */
  sha256(): string;
}

/**
 * Reads a part frame by frame with bounded memory, authenticating each frame before its
 * plaintext is released. Truncation (no final frame), trailing bytes and any changed byte are
 * reported with the frame where they were found.
 */
export function decryptPart(path: string, key: Buffer, binding: PartBinding): DecryptedPart {
  const hash = createHash('sha256');
  let digest: string | null = null;
  async function* chunks(): AsyncGenerator<Buffer> {
    const fail = (chunk: number | null, problem: string) => new PartIntegrityError(binding.part, chunk, problem);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw fail(null, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the part file is missing' : 'the part file cannot be read');
    }
    try {
      const size = (await handle.stat()).size;
      let position = 0;
      const readExactly = async (length: number): Promise<Buffer | null> => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        position += bytesRead;
        hash.update(buffer.subarray(0, bytesRead));
        return bytesRead === length ? buffer : null;
      };
      const magic = await readExactly(PART_MAGIC.length);
      if (!magic || !magic.equals(PART_MAGIC)) throw fail(null, 'not a Rampart backup part (bad header)');
      for (let index = 0; ; index++) {
        const head = await readExactly(FRAME_HEAD_BYTES);
        if (!head) throw fail(index, TRUNCATED);
        const length = head.readUInt32BE(0);
        if (length > CHUNK_PLAINTEXT_BYTES) throw fail(index, 'chunk length is corrupt');
        const body = await readExactly(length + TAG_BYTES);
        if (!body) throw fail(index, 'the file ends inside this chunk (truncated)');
        const nonce = head.subarray(4);
        // A frame is authenticated as final or not: try the flag it must have if the file ends here.
        const atEnd = position === size;
        const plaintext = openFrame(key, binding, index, atEnd, nonce, body);
        if (!plaintext) {
          if (!atEnd && openFrame(key, binding, index, true, nonce, body)) throw fail(index, 'unexpected bytes after the final chunk');
          if (atEnd && openFrame(key, binding, index, false, nonce, body)) throw fail(index + 1, TRUNCATED);
          throw fail(index, 'authentication failed (changed, reordered or wrong key)');
        }
        yield plaintext;
        if (atEnd) break;
      }
      digest = hash.digest('hex');
    } finally {
      await handle.close();
    }
  }
  return {
    chunks: chunks(),
    sha256() {
      if (digest === null) throw new Error('the part was not read to its end');
      return digest;
    },
  };
}

function openFrame(key: Buffer, binding: PartBinding, index: number, final: boolean, nonce: Buffer, body: Buffer): Buffer | null {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(frameAad(binding, index, final));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}
