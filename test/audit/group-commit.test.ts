import { describe, expect, it } from 'vitest';
import { GroupCommitOverloaded, GroupCommitter } from '../../src/audit/group-commit.js';

/** A commit the test releases by hand, recording each batch it was given. */
function controlledCommit() {
  const batches: Array<{ key: string; items: number[]; release: (error?: Error) => void }> = [];
  const commit = (key: string, items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ key, items, release: (error) => (error ? reject(error) : resolve(items.map((item) => `${key}:${item}`))) });
    });
  return { batches, commit };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('writes a lone item at once and batches what arrives while a batch is in flight', async () => {
    const { batches, commit } = controlledCommit();
    const committer = new GroupCommitter({ commit, maxBatch: 3, maxQueued: 100 });
    const first = committer.submit('a', 1);
    await tick();
    expect(batches.map((batch) => batch.items)).toEqual([[1]]);
    const later = [2, 3, 4, 5].map((item) => committer.submit('a', item));
    await tick();
    // Nothing of the second wave is written before the first batch commits.
    expect(batches).toHaveLength(1);
    batches[0]!.release();
    expect(await first).toBe('a:1');
    await tick();
    expect(batches.map((batch) => batch.items)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.release();
    await tick();
    batches[2]!.release();
    expect(await Promise.all(later)).toEqual(['a:2', 'a:3', 'a:4', 'a:5']);
    await committer.settled();
  });

  it('keeps keys independent: one chain never waits for another', async () => {
    const { batches, commit } = controlledCommit();
    const committer = new GroupCommitter({ commit, maxBatch: 10, maxQueued: 100 });
    const a = committer.submit('a', 1);
    const b = committer.submit('b', 1);
    await tick();
    expect(batches.map((batch) => batch.key)).toEqual(['a', 'b']);
    batches[1]!.release();
    expect(await b).toBe('b:1');
    batches[0]!.release();
    expect(await a).toBe('a:1');
  });

  it('fails every item of a failed batch, and only that batch', async () => {
    const { batches, commit } = controlledCommit();
    const committer = new GroupCommitter({ commit, maxBatch: 2, maxQueued: 100 });
    const blocker = committer.submit('a', 0);
    await tick();
    const doomed = [1, 2].map((item) => committer.submit('a', item));
    const next = committer.submit('a', 3);
    batches[0]!.release();
    await blocker;
    await tick();
    batches[1]!.release(new Error('connection lost'));
    await expect(Promise.all(doomed.map((promise) => promise.then(() => 'ok', (error: Error) => error.message)))).resolves.toEqual(['connection lost', 'connection lost']);
    await tick();
    batches[2]!.release();
    expect(await next).toBe('a:3');
  });

  it('refuses at once beyond the queue bound instead of growing without limit', async () => {
    const { batches, commit } = controlledCommit();
    const committer = new GroupCommitter({ commit, maxBatch: 2, maxQueued: 2 });
    // 1 is in flight; 2 and 3 wait; 4 would be the third waiting item.
    const accepted = [1, 2, 3].map((item) => committer.submit('a', item));
    await expect(committer.submit('a', 4)).rejects.toBeInstanceOf(GroupCommitOverloaded);
    await tick();
    batches[0]!.release();
    await tick();
    batches[1]!.release();
    expect(await Promise.all(accepted)).toEqual(['a:1', 'a:2', 'a:3']);
  });
});
