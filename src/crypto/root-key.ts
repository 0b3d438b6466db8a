import { randomBytes, hkdfSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Config } from '../config.js';

const ROOT_KEY_BYTES = 32;

/** Thrown when the root key cannot be used; the message says what to do. */
export class RootKeyError extends Error {
  override readonly name = 'RootKeyError';
}

/**
 * Loads the root key from RAMPART_ROOT_KEY, or from its file, creating the file (0600) on first
 * start of an embedded instance. The root key never enters the database: a copy of the database
 * alone decrypts nothing.
 */
export async function loadRootKey(source: Config['rootKey']): Promise<Buffer> {
  if (source.source === 'env') return Buffer.from(source.base64, 'base64');
  const existing = await readKeyFile(source.path);
  if (existing) return existing;
  if (source.explicit) throw new RootKeyError(`Root key file ${source.path} does not exist; create it with: openssl rand -base64 32 > ${source.path} && chmod 600 ${source.path}`);
  const key = randomBytes(ROOT_KEY_BYTES);
  try {
    // 'wx' fails if another process created it first; then we read theirs.
    await writeFile(source.path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readKeyFile(source.path))!;
  }
}

async function readKeyFile(path: string): Promise<Buffer | null> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if ((mode & 0o077) !== 0) {
    throw new RootKeyError(`Root key file ${path} is readable by other users; run: chmod 600 ${path}`);
  }
  const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
  if (key.length !== ROOT_KEY_BYTES) throw new RootKeyError(`Root key file ${path} must hold 32 bytes in base64`);
  return key;
}

/**
 * Derives an independent 256-bit key for one purpose (HKDF-SHA256), so each hierarchy (signing
 * keys, secrets, backups, tenant keys) has its own root and a key for one never decrypts another.
 */
export function deriveKey(rootKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), `rampart:${purpose}`, ROOT_KEY_BYTES));
}
