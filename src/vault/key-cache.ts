/**
 * A bounded cache of unwrapped keys: at most `maxEntries`, each for at most `maxAgeMs`, least
 * recently used out first. It keeps KMS calls and unwrapping off the hot path; it never decides
 * whether a key may be used (a destroyed data key is refused from its row, on every read).
 */
export class KeyCache {
  private readonly entries = new Map<string, { key: Buffer; storedAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(id: string): Buffer | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (this.now() - entry.storedAt > this.maxAgeMs) return undefined;
    // Re-inserted last: a Map iterates in insertion order, so the first entry is the least recent.
    this.entries.set(id, entry);
    return entry.key;
  }

  set(id: string, key: Buffer): void {
    this.entries.delete(id);
    this.entries.set(id, { key, storedAt: this.now() });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  /** Drops every entry whose id starts with `prefix` (all keys of a tenant). */
  deletePrefix(prefix: string): void {
    for (const id of [...this.entries.keys()]) if (id.startsWith(prefix)) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
