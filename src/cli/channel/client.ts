import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { PACKAGE_VERSION } from '../../version.js';
import type { EventSink } from '../events.js';
import { VerbError } from '../verb.js';
import { adminSocketPath, decodeEvent, SERVER_INFO_PATH, VERB_PATH_PREFIX } from './protocol.js';
import type { ServerInfo, VerbRequest } from './protocol.js';
import { inspectAdminSocket, isNoServer, removeStaleSocket } from './socket.js';

/** A running server reached through its admin socket. */
export interface ServerConnection {
  info: ServerInfo;
  /** Runs the verb in the server, passing its events to `sink` as they arrive. */
  runVerb(name: string, argv: readonly string[], sink: EventSink): Promise<void>;
}

// A server that accepts but does not answer this is wedged; say so rather than hang.
const INFO_TIMEOUT_MS = 5000;

/**
 * Finds the server running on `dataDir`, or null when there is none. A socket left behind by a
 * server that died (nobody accepts on it) is removed on the way.
 */
export async function connectToServer(dataDir: string): Promise<ServerConnection | null> {
  const socketPath = adminSocketPath(dataDir);
  const socket = await inspectAdminSocket(socketPath);
  if (!socket) return null;
  let info: ServerInfo;
  try {
    info = await fetchInfo(socketPath);
  } catch (error) {
    if (!isNoServer(error)) throw error;
    await removeStaleSocket(socketPath, socket);
    return null;
  }
  return {
    info,
    runVerb: (name, argv, sink) => runRemoteVerb(socketPath, info, name, argv, sink),
  };
}

function fetchInfo(socketPath: string): Promise<ServerInfo> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: SERVER_INFO_PATH, method: 'GET', agent: false, timeout: INFO_TIMEOUT_MS }, (response) => {
      readBody(response).then((body) => {
        if (response.statusCode !== 200) return reject(new VerbError(`The admin channel at ${socketPath} answered ${response.statusCode}; is it a Rampart server?`));
        try {
          resolve(JSON.parse(body) as ServerInfo);
        } catch {
          reject(new VerbError(`The admin channel at ${socketPath} did not answer JSON; is it a Rampart server?`));
        }
      }, reject);
    });
    req.on('timeout', () => req.destroy(new VerbError(`The server on ${socketPath} does not answer; check its log, or stop it`)));
    req.on('error', reject);
    req.end();
  });
}

async function runRemoteVerb(socketPath: string, info: ServerInfo, name: string, argv: readonly string[], sink: EventSink): Promise<void> {
  if (info.version !== PACKAGE_VERSION) {
    sink({ type: 'note', message: `Note: the running server is version ${info.version}, this CLI ${PACKAGE_VERSION}` });
  }
  let finished = false;
  const forward: EventSink = (event) => {
    if (finished) return;
    if (event.type === 'result' || event.type === 'error') finished = true;
    sink(event);
  };
  try {
    const response = await postVerb(socketPath, name, { argv: [...argv] });
    for await (const line of readLines(response)) {
      const event = decodeEvent(line);
      if (event) forward(event);
    }
  } catch (error) {
    if (!isNoServer(error) && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
  }
  if (!finished) {
    forward({ type: 'error', code: 'failed', message: `The server (pid ${info.pid}) went away before ${name} finished; check its log and run the verb again` });
  }
}

function postVerb(socketPath: string, name: string, body: VerbRequest): Promise<IncomingMessage> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        // Verb names are plain words from the registry; nothing to encode.
        path: `${VERB_PATH_PREFIX}${name}`,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      resolve,
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** NDJSON lines as they arrive; rejects when the connection breaks mid-stream. */
async function* readLines(response: IncomingMessage): AsyncGenerator<string> {
  let buffered = '';
  response.setEncoding('utf8');
  for await (const chunk of response) {
    buffered += chunk as string;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) yield line;
  }
  if (buffered.trim()) yield buffered;
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
