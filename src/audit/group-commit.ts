/**
 * Group commit: concurrent submissions for the same key (a tenant's chain) are written together,
 * in one call of `commit` (one transaction, one lock of the chain head), instead of queueing one
 * by one behind the head's row lock. A batch starts as soon as the previous one for its key has
 * finished, so a lone request waits for nothing, and a burst fills the next batch by itself.
 *
 * All or nothing per batch: every submitter of a batch gets its own result only after `commit`
 * resolved (the transaction is durable), and all of them get the error if it rejects, so nothing
 * is acknowledged that may not be stored.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Writes one batch for `key`; resolves with one result per item, in order, once committed. */
  commit: (key: string, items: Item[]) => Promise<Result[]>;
  /** Most items in one batch: bounds a transaction's size and the wait of its first item. */
  maxBatch: number;
  /** Most items waiting for one key; beyond it `submit` refuses at once (the caller answers 503). */
  maxQueued: number;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/** Thrown by `submit` when a key already has `maxQueued` items waiting. */
export class GroupCommitOverloaded extends Error {
  override readonly name = 'GroupCommitOverloaded';
}

export class GroupCommitter<Item, Result> {
  private readonly queues = new Map<string, Waiting<Item, Result>[]>();
  /** Keys with a batch in flight, each with the promise that settles when its queue is empty. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError('maxBatch must be a whole number of at least 1');
  }

  /** Queues `item` for `key`; resolves with its result once its batch has committed. */
  submit(key: string, item: Item): Promise<Result> {
    const queue = this.queues.get(key) ?? [];
    if (queue.length >= this.options.maxQueued) return Promise.reject(new GroupCommitOverloaded(`more than ${this.options.maxQueued} writes are waiting`));
    const result = new Promise<Result>((resolve, reject) => queue.push({ item, resolve, reject }));
    this.queues.set(key, queue);
    if (!this.running.has(key)) this.running.set(key, this.drain(key));
    return result;
  }

  /** Resolves once every item submitted so far has been written or failed (for shutdown). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private async drain(key: string): Promise<void> {
    try {
      for (;;) {
        const queue = this.queues.get(key);
        if (!queue || queue.length === 0) return;
        const batch = queue.splice(0, this.options.maxBatch);
        if (queue.length === 0) this.queues.delete(key);
        await this.commitBatch(key, batch);
      }
    } finally {
      this.running.delete(key);
    }
  }

  private async commitBatch(key: string, batch: Waiting<Item, Result>[]): Promise<void> {
    let results: Result[];
    try {
      results = await this.options.commit(
        key,
        batch.map((waiting) => waiting.item),
      );
      if (results.length !== batch.length) throw new Error(`commit returned ${results.length} results for ${batch.length} items`);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, index) => waiting.resolve(results[index]!));
  }
}
