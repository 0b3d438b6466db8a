/**
 * Any bit flip in a ciphertext is refused (issue 9). vault.security.test.ts and
 * backup/tamper.security.test.ts flip chosen bytes through the API and the CLI; here fast-check
 * flips every position it likes — header, nonce, body, tag, frame lengths — in a vault envelope
 * and in an encrypted backup part, and truncates parts anywhere. Each must fail authentication
 * with the module's own error, never return plaintext.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPartEncryptor, decryptPart, PartIntegrityError } from '../../src/backup/chunked-cipher.js';
import type { PartBinding } from '../../src/backup/chunked-cipher.js';
import { openEnvelope, sealEnvelope, UndecryptableError } from '../../src/vault/envelope.js';
import type { EnvelopeContext } from '../../src/vault/envelope.js';

function flipBit(bytes: Buffer, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[Math.floor(bit / 8) % copy.length]! ^= 1 << bit % 8;
  return copy;
}

const context: fc.Arbitrary<EnvelopeContext> = fc.record({
  tenantId: fc.uuid(),
  collection: fc.string({ minLength: 1, maxLength: 20 }),
  recordKey: fc.string({ minLength: 1, maxLength: 20 }),
  field: fc.constantFrom('data', 'subject'),
});

describe('vault envelopes (property)', () => {
  it('opens what it sealed, and refuses the envelope with any one bit flipped', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), context, fc.nat(), (plaintext, place, bit) => {
        const key = randomBytes(32);
        const sealed = sealEnvelope(key, { keyId: randomUUID(), kekVersion: 1 }, place, Buffer.from(plaintext));
        expect(openEnvelope(key, sealed, place)).toEqual(Buffer.from(plaintext));
        expect(() => openEnvelope(key, flipBit(sealed, bit % (sealed.length * 8)), place)).toThrow(UndecryptableError);
      }),
      { numRuns: 500 },
    );
  });
});

describe('backup parts (property)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-part-fuzz-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function encryptedPart(key: Buffer, binding: PartBinding, plaintext: Buffer): Promise<string> {
    const path = join(dir, `${randomUUID()}.part`);
    await pipeline(Readable.from([plaintext]), createPartEncryptor(key, binding), createWriteStream(path));
    return path;
  }

  async function readAll(path: string, key: Buffer, binding: PartBinding): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of decryptPart(path, key, binding).chunks) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  it('reads back what it wrote, and refuses the part with any one bit flipped or cut short anywhere', async () => {
    // Up to three frames of 64 KiB, so frame boundaries and the final flag are in reach.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 150_000 }), fc.nat(), fc.nat(), async (size, bit, cut) => {
        const key = randomBytes(32);
        const binding = { backupId: randomUUID(), part: 'tables/users' };
        const plaintext = randomBytes(size);
        const path = await encryptedPart(key, binding, plaintext);
        expect((await readAll(path, key, binding)).equals(plaintext)).toBe(true);
        const file = await readFile(path);
        await writeFile(path, flipBit(file, bit % (file.length * 8)));
        await expect(readAll(path, key, binding)).rejects.toThrow(PartIntegrityError);
        await writeFile(path, file.subarray(0, cut % file.length));
        await expect(readAll(path, key, binding)).rejects.toThrow(PartIntegrityError);
        await rm(path);
      }),
      { numRuns: 60 },
    );
  });
});
