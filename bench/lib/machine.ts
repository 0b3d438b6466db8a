import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';

/** Where the numbers came from: without this a result cannot be compared with another. */
export function describeMachine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown cpu';
  const averages = loadavg();
  const load = averages.map((value) => value.toFixed(2)).join(' ');
  const busy = (averages[0] ?? 0) > availableParallelism() / 2;
  return [
    `date:    ${new Date().toISOString()}`,
    `cores:   ${availableParallelism()} (${cpu})`,
    `node:    ${process.version}`,
    `commit:  ${gitCommit()}`,
    // Other processes on the machine skew results; the load average at start says whether they did.
    `load:    ${load} (1/5/15 min, at start)`,
    ...(busy ? ['warning: other processes are using the CPU; expect noisy numbers (compare CPU µs/req rather than req/s)'] : []),
  ].join('\n');
}

function gitCommit(): string {
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    // Numbers measured on uncommitted code cannot be reproduced from the commit alone.
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function git(...args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}
