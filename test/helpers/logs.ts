import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/log/logger.js';
import type { Logger } from '../../src/platform/log/logger.js';

/** A real (scrubbing) logger whose output the test can search. */
export function captureLogs(level = 'info'): { logger: Logger; raw(): string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger(level, sink), raw: () => chunks.join('') };
}
