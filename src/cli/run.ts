import { parseVerbInput, splitGlobalFlags } from './args.js';
import { createReporter, toErrorEvent } from './events.js';
import type { EventSink } from './events.js';
import { runOnHost } from './host.js';
import { createRenderer } from './render.js';
import type { Terminal } from './render.js';
import { UsageError } from './verb.js';
import type { Json, LocalVerb, Verb } from './verb.js';

const NO_INPUT = { options: {}, positionals: [] };

/**
 * `rampart [--json] <verb> [arguments]`: finds the verb, runs it where it belongs, renders its
 * events, and returns the exit code. Knows no verb by name except `help`, its fallback.
 */
export async function runCli(argv: readonly string[], terminal: Terminal, verbs: readonly Verb[]): Promise<number> {
  const { flags, rest } = splitGlobalFlags(argv);
  const help = verbs.find((verb): verb is LocalVerb => verb.name === 'help' && verb.access === 'local');
  if (!help) throw new Error('the verb registry has no help verb');
  const [name, ...verbArgv] = rest;

  if (flags.help) {
    // `rampart --help` and `rampart migrate --help` both mean help, for all verbs or that one.
    const renderer = createRenderer(terminal, { json: flags.json, render: (result) => help.render(result) });
    await runLocal(help, name === undefined ? [] : [name], renderer.handle, verbs);
    return renderer.exitCode();
  }

  const verb = verbs.find((candidate) => candidate.name === name);
  if (!verb) {
    const renderer = createRenderer(terminal, { json: flags.json, render: (result) => help.render(result) });
    renderer.handle(toErrorEvent(new UsageError(name === undefined ? 'name a verb' : `unknown verb "${name}"`)));
    if (!flags.json) terminal.stderr.write(`\n${help.render(await help.run({ input: NO_INPUT, report: createReporter(() => undefined), verbs }))}\n`);
    return renderer.exitCode();
  }

  const renderer = createRenderer(terminal, { json: flags.json, render: (result) => verb.render(result) });
  try {
    if (verb.access === 'local') await runLocal(verb, verbArgv, renderer.handle, verbs);
    else {
      const input = parseVerbInput(verb, verbArgv);
      if (verb.offline?.when(input)) renderer.handle({ type: 'result', result: await verb.offline.run({ input, report: createReporter(renderer.handle), verbs }) });
      else await runOnHost(verb, verbArgv, input, renderer.handle, verbs);
    }
  } catch (error) {
    const event = toErrorEvent(error);
    renderer.handle(event);
    // A bug, not an operator mistake: the stack is the only report there will be.
    if (event.code === 'internal' && error instanceof Error && error.stack) terminal.stderr.write(`${error.stack}\n`);
  }
  return renderer.exitCode();
}

async function runLocal(verb: LocalVerb, argv: readonly string[], sink: EventSink, verbs: readonly Verb[]): Promise<void> {
  const input = parseVerbInput(verb, argv);
  const result: Json = await verb.run({ input, report: createReporter(sink), verbs });
  sink({ type: 'result', result });
}
