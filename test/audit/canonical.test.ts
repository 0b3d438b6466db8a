import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, canonicalJson } from '../../src/audit/canonical.js';
import type { ChainedEntry } from '../../src/audit/canonical.js';

/**
 * canonicalEntry writes the canonical JSON out by hand (verification speed); these are the bytes
 * every stored hash covers, so they must stay exactly RFC 8785 of the entry object.
 */
function reference(entry: ChainedEntry): Buffer {
  return canonicalJson({
    tenant: entry.tenantId,
    seq: entry.seq,
    id: entry.id,
    at: entry.at.toISOString(),
    action: entry.action,
    actor: { type: entry.actor.type, id: entry.actor.id },
    target: entry.target ? { type: entry.target.type, id: entry.target.id } : null,
    request_id: entry.requestId,
    metadata: entry.metadata,
    personal: entry.personal ? entry.personal.toString('base64') : null,
    subject_id: entry.subjectId,
    prev_hash: entry.prevHash.toString('hex'),
  });
}

// Quotes, escapes, control characters, non-ASCII, astral characters, an empty string. (Lone
// surrogates have no UTF-8 form: PostgreSQL stores no such text, and the canonicalizer refuses them.)
const AWKWARD = ['', '"', '\\', '\n\t\u0000\u001f', 'é', 'ß漢字', '😀', '</script>', 'a"b\\c', '\u2028\u2029'];

function randomText(): string {
  if (randomInt(3) === 0) return AWKWARD[randomInt(AWKWARD.length)]!;
  return Array.from({ length: randomInt(12) }, () => String.fromCodePoint(randomInt(4) === 0 ? randomInt(0xa0, 0xd7ff) : randomInt(0x20, 0x7f))).join('');
}

function maybe<T>(value: () => T): T | null {
  return randomInt(3) === 0 ? null : value();
}

function randomValue(depth: number): unknown {
  switch (randomInt(depth > 2 ? 4 : 6)) {
    case 0:
      return randomText();
    case 1:
      return [0, -0, 1, -1, 1.5, 1e21, 1e-7, 2 ** 53 - 1, Math.PI][randomInt(9)];
    case 2:
      return [true, false, null][randomInt(3)];
    case 3:
      return randomInt(1_000_000);
    case 4:
      return Array.from({ length: randomInt(4) }, () => randomValue(depth + 1));
    default:
      return randomObject(depth + 1);
  }
}

function randomObject(depth: number): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: randomInt(5) }, () => [randomText(), randomValue(depth)]));
}

function randomEntry(): ChainedEntry {
  return {
    tenantId: randomUUID(),
    seq: randomInt(2 ** 47),
    id: randomUUID(),
    at: new Date(randomInt(2 ** 42)),
    action: randomText(),
    actor: { type: (['user', 'api_key', 'platform', 'system'] as const)[randomInt(4)]!, id: maybe(randomText) },
    target: maybe(() => ({ type: randomText(), id: randomText() })),
    requestId: maybe(randomText),
    metadata: randomObject(0),
    personal: maybe(() => randomBytes(randomInt(64))),
    subjectId: maybe(randomText),
    prevHash: randomBytes(32),
  };
}

describe('canonicalEntry', () => {
  it('is byte-identical to RFC 8785 canonical JSON of the entry, over random entries', () => {
    for (let run = 0; run < 5000; run++) {
      const entry = randomEntry();
      expect(canonicalEntry(entry).equals(reference(entry)), JSON.stringify(reference(entry).toString('utf8'))).toBe(true);
    }
  });
});
