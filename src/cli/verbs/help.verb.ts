import type { LocalVerb, Verb } from '../verb.js';

type VerbSummary = { name: string; summary: string; usage: string; options: Array<{ flag: string; description: string }> };
type HelpResult = { verbs: VerbSummary[]; detailed: boolean };

/** `rampart help [verb]`: the verb list, or one verb's usage and options. */
export const helpVerb: LocalVerb<HelpResult> = {
  name: 'help',
  summary: 'Show the verbs, or how to use one',
  usage: 'rampart help [verb]',
  access: 'local',
  maxPositionals: 1,
  async run({ input, verbs }) {
    const name = input.positionals[0];
    if (name === undefined) return { verbs: verbs.map(summarize), detailed: false };
    const verb = verbs.find((candidate) => candidate.name === name);
    // An unknown verb here is answered with the full list, the most useful thing to show.
    return verb ? { verbs: [summarize(verb)], detailed: true } : { verbs: verbs.map(summarize), detailed: false };
  },
  render(result) {
    const [only] = result.verbs;
    if (result.detailed && only) return renderOne(only);
    const width = Math.max(...result.verbs.map((verb) => verb.name.length));
    return [
      'Usage: rampart <verb> [options] [--json]',
      '',
      'Verbs:',
      ...result.verbs.map((verb) => `  ${verb.name.padEnd(width)}  ${verb.summary}`),
      '',
      'Every verb reads the server\'s configuration (RAMPART_* variables, RAMPART_CONFIG_FILE, DATABASE_URL).',
      'While a server runs on the same data folder, verbs run inside it through <data folder>/admin.sock;',
      'otherwise they open the database themselves. --json prints one JSON document on stdout.',
      'rampart help <verb> shows a verb\'s options.',
    ].join('\n');
  },
};

function summarize(verb: Verb): VerbSummary {
  const options = Object.entries(verb.options ?? {}).map(([name, option]) => ({
    flag: `--${name}${option.short ? `, -${option.short}` : ''}`,
    description: option.description,
  }));
  options.push({ flag: '--json', description: 'Print the result as one JSON document on stdout' });
  return { name: verb.name, summary: verb.summary, usage: verb.usage, options };
}

function renderOne(verb: VerbSummary): string {
  const width = Math.max(...verb.options.map((option) => option.flag.length));
  return [
    `Usage: ${verb.usage}`,
    '',
    verb.summary,
    '',
    'Options:',
    ...verb.options.map((option) => `  ${option.flag.padEnd(width)}  ${option.description}`),
  ].join('\n');
}
