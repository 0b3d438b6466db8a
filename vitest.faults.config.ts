import { defineConfig } from 'vitest/config';

/**
 * The fault tests (issue 9, `npm run test:faults`): real server processes, a PostgreSQL cluster,
 * Redis and SMTP servers that the tests stop and start themselves. One file at a time, since
 * they measure restarts and kill processes; run against PostgreSQL (DATABASE_URL) by .ci/run.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
