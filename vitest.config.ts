import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // A safety net against hangs, not a speed check: tests that spawn processes (CLI, server, crash)
    // load every module through tsx, which on a busy 2-core machine takes tens of seconds.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
