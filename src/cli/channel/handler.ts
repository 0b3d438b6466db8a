import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../platform/log/logger.js';
import type { Runtime } from '../../runtime.js';
import { parseVerbInput } from '../args.js';
import { toErrorEvent } from '../events.js';
import type { VerbEvent } from '../events.js';
import { runDatabaseVerb } from '../execute.js';
import type { Verb } from '../verb.js';
import { encodeEvent, isVerbRequest, MAX_REQUEST_BYTES, NDJSON, SERVER_INFO_PATH, VERB_PATH_PREFIX } from './protocol.js';
import type { ServerInfo } from './protocol.js';

export interface AdminHandlerDependencies {
  runtime: Runtime;
  verbs: readonly Verb[];
  info: ServerInfo;
  logger: Logger;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** Answers the admin protocol (see protocol.ts) by running verbs on the server's own database. */
export function createAdminHandler(deps: AdminHandlerDependencies): Handler {
  return (request, response) => {
    void handle(deps, request, response).catch((error: unknown) => {
      deps.logger.error({ err: error }, 'admin channel request failed');
      response.destroy();
    });
  };
}

async function handle(deps: AdminHandlerDependencies, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? '/';
  if (request.method === 'GET' && url === SERVER_INFO_PATH) {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(deps.info));
    return;
  }
  if (request.method !== 'POST' || !url.startsWith(VERB_PATH_PREFIX)) {
    answerError(response, 404, `No admin endpoint ${request.method} ${url}`);
    return;
  }
  const name = url.slice(VERB_PATH_PREFIX.length);
  const verb = deps.verbs.find((candidate) => candidate.name === name);
  // A CLI newer than the server may know verbs the server does not.
  if (!verb) return answerError(response, 404, `The running server (version ${deps.info.version}) has no verb "${name}"; restart it to get the verbs of this version`);
  if (verb.access === 'local') return answerError(response, 400, `${name} runs in the CLI, not in the server`);
  if (verb.access === 'exclusive') return answerError(response, 409, `${name} needs the database to itself; stop the server (pid ${deps.info.pid}) first`);
  const body = await readJson(request);
  if (!isVerbRequest(body)) return answerError(response, 400, 'The admin request body must be {"argv": [strings]}');

  deps.logger.info({ verb: name }, 'admin verb started');
  response.writeHead(200, { 'content-type': NDJSON });
  const send = (event: VerbEvent) => void response.write(encodeEvent(event));
  const abort = new AbortController();
  response.on('close', () => {
    if (!response.writableFinished) abort.abort();
  });
  try {
    const input = parseVerbInput(verb, body.argv);
    const host = { kind: 'server' as const, pid: deps.info.pid, url: deps.info.url, startedAt: deps.info.startedAt };
    const result = await runDatabaseVerb(verb, deps.runtime, { input, sink: send, verbs: deps.verbs, host, signal: abort.signal });
    send({ type: 'result', result });
    deps.logger.info({ verb: name }, 'admin verb finished');
  } catch (error) {
    const event = toErrorEvent(error);
    if (event.code === 'internal') {
      deps.logger.error({ err: error, verb: name }, 'admin verb failed');
      event.message = `${event.message} (the server log has the details)`;
    } else {
      deps.logger.warn({ verb: name, reason: event.message }, 'admin verb refused');
    }
    send(event);
  }
  response.end();
}

function answerError(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': NDJSON }).end(encodeEvent({ type: 'error', code: 'failed', message }));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
