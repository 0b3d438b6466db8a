import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditActorType } from '../platform/db/schema.js';

/** prev_hash of a chain's first entry. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

export interface AuditActor {
  type: AuditActorType;
  id: string | null;
}

export interface AuditTarget {
  type: string;
  id: string;
}

/** An entry as it is hashed: exactly what `audit_entries` stores, minus the hash and tree nodes. */
export interface ChainedEntry {
  tenantId: string;
  seq: number;
  id: string;
  at: Date;
  action: string;
  actor: AuditActor;
  target: AuditTarget | null;
  requestId: string | null;
  /** Plain JSON (see `toStoredJson`): what jsonb gives back is what was hashed. */
  metadata: Record<string, unknown>;
  /** The stored bytes of the personal fields; the hash covers these bytes, whatever they encode. */
  personal: Buffer | null;
  subjectId: string | null;
  prevHash: Buffer;
}

function canonicalText(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

/** RFC 8785 canonical JSON of `value`, as UTF-8. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(canonicalText(value), 'utf8');
}

/**
 * The value as JSON gives it back (dates as strings, undefined fields dropped), so that the
 * metadata hashed at append is the metadata jsonb returns at verification.
 */
export function toStoredJson(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

/** RFC 8785 serializes strings exactly as JSON.stringify does. */
function jsonString(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/**
 * The canonical bytes an entry's hash covers: RFC 8785 canonical JSON of
 * `{tenant, seq, id, at, action, actor: {type, id}, target: {type, id} | null, request_id,
 * metadata, personal (base64), subject_id, prev_hash (hex)}`. Personal data enters only as its
 * stored bytes, so encrypting it per data subject (or erasing the key) changes nothing here.
 *
 * Written out with the keys already in RFC 8785 order, and only the metadata (the one free-form
 * value) through the canonicalizer: verification recomputes this for every entry, and the generic
 * canonicalizer sorting a dozen fixed keys was most of its CPU. test/audit/canonical.test.ts proves
 * the bytes equal canonicalJson of the object above, over random entries.
 */
export function canonicalEntry(entry: ChainedEntry): Buffer {
  const target = entry.target ? `{"id":${jsonString(entry.target.id)},"type":${jsonString(entry.target.type)}}` : 'null';
  const text =
    `{"action":${jsonString(entry.action)},"actor":{"id":${jsonString(entry.actor.id ?? null)},"type":${jsonString(entry.actor.type)}},` +
    `"at":"${entry.at.toISOString()}","id":${jsonString(entry.id)},"metadata":${canonicalText(entry.metadata)},` +
    `"personal":${entry.personal ? `"${entry.personal.toString('base64')}"` : 'null'},"prev_hash":"${entry.prevHash.toString('hex')}",` +
    `"request_id":${jsonString(entry.requestId)},"seq":${entry.seq},"subject_id":${jsonString(entry.subjectId)},"target":${target},"tenant":${jsonString(entry.tenantId)}}`;
  return Buffer.from(text, 'utf8');
}

/** SHA-256 of the canonical entry: the chain link and the Merkle leaf's input. */
export function entryHash(entry: ChainedEntry): Buffer {
  return createHash('sha256').update(canonicalEntry(entry)).digest();
}

/**
 * The personal fields (ip, user agent, personal metadata) as canonical JSON, the plaintext that
 * src/audit/personal.ts seals under the subject's key. Null when there is none.
 */
export function encodePersonal(fields: Record<string, unknown>): Buffer | null {
  const present = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined && value !== null));
  return Object.keys(present).length > 0 ? canonicalJson(toStoredJson(present)) : null;
}
