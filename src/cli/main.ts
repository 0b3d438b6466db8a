#!/usr/bin/env node
import { runCli } from './run.js';
import { VERBS } from './verbs/index.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, interactive: process.stderr.isTTY === true }, VERBS);
// Exit explicitly once the output is written: a handle a verb forgot to close must not hang the shell.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
