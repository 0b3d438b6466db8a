import { describe, expect, it } from 'vitest';
import { SingleFlight, TooManyRuns } from '../../src/audit/verify-runs.js';

/** A run that finishes when the test says so. */
function gate<T>(value: T) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let started = 0;
  return {
    work: async () => {
      started += 1;
      await opened;
      return value;
    },
    open: () => open(),
    started: () => started,
  };
}

describe('verification runs', () => {
  it('share one run between concurrent callers for the same chain', async () => {
    const runs = new SingleFlight<string>(2);
    const chain = gate('result');
    const first = runs.run('org-a', chain.work);
    const second = runs.run('org-a', chain.work);
    chain.open();
    expect(await Promise.all([first, second])).toEqual(['result', 'result']);
    expect(chain.started()).toBe(1);
    // Once finished, the next caller gets a fresh run.
    const again = gate('again');
    const third = runs.run('org-a', again.work);
    again.open();
    expect(await third).toBe('again');
  });

  it('refuse a run for another chain beyond the limit, and take it again once one finishes', async () => {
    const runs = new SingleFlight<string>(2);
    const [a, b] = [gate('a'), gate('b')];
    const first = runs.run('org-a', a.work);
    const second = runs.run('org-b', b.work);
    await expect(runs.run('org-c', gate('c').work)).rejects.toBeInstanceOf(TooManyRuns);
    a.open();
    await first;
    const c = gate('c');
    const third = runs.run('org-c', c.work);
    b.open();
    c.open();
    expect(await Promise.all([second, third])).toEqual(['b', 'c']);
  });

  it('let a failed run go, so the next caller tries again', async () => {
    const runs = new SingleFlight<string>(1);
    await expect(runs.run('org-a', () => Promise.reject(new Error('database went away')))).rejects.toThrow('database went away');
    expect(await runs.run('org-b', () => Promise.resolve('ok'))).toBe('ok');
  });
});
