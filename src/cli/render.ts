import cliProgress from 'cli-progress';
import type { FailureCode, VerbEvent } from './events.js';
import type { Json } from './verb.js';

/** Where the CLI writes; tests and the entry point pass the process streams. */
export interface Terminal {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stderr is a terminal: progress bars are drawn there and nowhere else. */
  interactive: boolean;
}

export interface Renderer {
  handle(event: VerbEvent): void;
  /** 0 after a result, 2 after a usage error, 1 after any other failure or none at all. */
  exitCode(): number;
}

const EXIT_CODES: Record<FailureCode, number> = { usage: 2, failed: 1, internal: 1 };

/**
 * Turns a verb's events into what a person or a script reads: bars and notes for a person, exactly
 * one JSON document on stdout with --json. Failures are one line on stderr either way.
 */
export function createRenderer(terminal: Terminal, options: { json: boolean; render: (result: Json) => string }): Renderer {
  const bars = new Map<number, cliProgress.SingleBar>();
  let multibar: cliProgress.MultiBar | null = null;
  let code: number | null = null;
  const drawBars = terminal.interactive && !options.json;

  const stopAllBars = () => {
    // stop() alone drops notes logged since the last redraw; a final update() prints them.
    multibar?.update();
    multibar?.stop();
    multibar = null;
    bars.clear();
  };

  return {
    handle(event) {
      switch (event.type) {
        case 'progress-start': {
          if (!drawBars) return;
          multibar ??= new cliProgress.MultiBar(
            { format: '{label} [{bar}] {value}/{total} {detail}', hideCursor: true, stream: terminal.stderr },
            cliProgress.Presets.shades_classic,
          );
          bars.set(event.id, multibar.create(event.total, 0, { label: event.label, detail: '' }));
          return;
        }
        case 'progress':
          bars.get(event.id)?.update(event.value, { detail: event.detail });
          return;
        case 'progress-stop': {
          bars.get(event.id)?.stop();
          bars.delete(event.id);
          if (bars.size === 0) stopAllBars();
          return;
        }
        case 'note':
          if (options.json) return;
          // Writing around live bars would tear them; the bar library prints above them instead.
          if (multibar) multibar.log(`${event.message}\n`);
          else terminal.stdout.write(`${event.message}\n`);
          return;
        case 'result':
          stopAllBars();
          terminal.stdout.write(options.json ? `${JSON.stringify(event.result, null, 2)}\n` : `${options.render(event.result)}\n`);
          code = 0;
          return;
        case 'error':
          stopAllBars();
          terminal.stderr.write(`rampart: ${event.message}\n`);
          if (options.json) terminal.stdout.write(`${JSON.stringify({ error: { code: event.code, message: event.message } }, null, 2)}\n`);
          code = EXIT_CODES[event.code];
          return;
      }
    },
    exitCode() {
      stopAllBars();
      return code ?? 1;
    },
  };
}
