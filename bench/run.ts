import { readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './lib/benchmark.js';
import { describeMachine } from './lib/machine.js';

/**
 * `npm run bench` runs every `bench/*.bench.ts`; `npm run bench -- pipeline` only the ones named.
 * Benchmarks measure and print; they never assert a speed, which would fail on a slower machine.
 */

const SUFFIX = '.bench.ts';
const BENCH_DIR = new URL('./', import.meta.url);

async function main(): Promise<void> {
  const available = (await readdir(fileURLToPath(BENCH_DIR)))
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort();
  // Accept "pipeline", "pipeline.bench.ts" or "bench/pipeline.bench.ts", whichever the shell completed.
  const requested = process.argv.slice(2).map((arg) => basename(arg).replace(/\.bench(\.ts)?$/, ''));
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new Error(`no benchmark named ${unknown.join(', ')}; available: ${available.join(', ')}`);
  }

  console.log(describeMachine());
  for (const name of requested.length > 0 ? requested : available) {
    const module = (await import(new URL(`${name}${SUFFIX}`, BENCH_DIR).href)) as { default: Benchmark };
    console.log(`\n## ${name}: ${module.default.description}\n`);
    await module.default.run();
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
