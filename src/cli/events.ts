import { describeOperatorError } from '../operator-errors.js';
import { scrubString } from '../platform/log/scrub.js';
import { UsageError, VerbError } from './verb.js';
import type { Json, ProgressBar, Reporter } from './verb.js';

/** Why a verb failed: `usage` exits 2, the others 1; `internal` is a bug (the host logs its stack). */
export type FailureCode = 'usage' | 'failed' | 'internal';

/**
 * What a running verb reports, in order, ending with exactly one `result` or `error`. In the CLI
 * they go straight to the terminal; from the server they travel as NDJSON over the admin socket.
 */
export type VerbEvent =
  | { type: 'progress-start'; id: number; label: string; total: number }
  | { type: 'progress'; id: number; value: number; detail: string }
  | { type: 'progress-stop'; id: number }
  | { type: 'note'; message: string }
  | { type: 'result'; result: Json }
  | { type: 'error'; code: FailureCode; message: string };

export type EventSink = (event: VerbEvent) => void;

/** The Reporter a verb sees, turning its calls into events for `sink`. */
export function createReporter(sink: EventSink): Reporter {
  let nextId = 1;
  return {
    progress(label: string, total: number): ProgressBar {
      const id = nextId++;
      sink({ type: 'progress-start', id, label, total });
      let stopped = false;
      return {
        update(value: number, detail = '') {
          if (!stopped) sink({ type: 'progress', id, value, detail });
        },
        stop() {
          if (stopped) return;
          stopped = true;
          sink({ type: 'progress-stop', id });
        },
      };
    },
    note(message: string) {
      sink({ type: 'note', message });
    },
  };
}

/** The one-line failure both hosts report; a bug keeps its (scrubbed) message, its stack goes to a log. */
export function toErrorEvent(error: unknown): Extract<VerbEvent, { type: 'error' }> {
  if (error instanceof UsageError) return { type: 'error', code: 'usage', message: error.message };
  if (error instanceof VerbError) return { type: 'error', code: 'failed', message: error.message };
  const line = describeOperatorError(error);
  if (line) return { type: 'error', code: 'failed', message: line };
  return { type: 'error', code: 'internal', message: scrubString(error instanceof Error ? error.message : String(error)) };
}

/** Makes a direct run return exactly what a run through the server would (dates become strings). */
export function toJson(value: Json): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}
