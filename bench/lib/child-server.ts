import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A server running in its own process, as seen from the load generator. */
export interface ChildServer {
  url: string;
  /** CPU time (user + system) the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

/** Messages between the benchmark and a server process started by `startChildServer`. */
export type ToServer = { type: 'cpu' };
export type FromServer = { type: 'listening'; port: number } | { type: 'cpu'; micros: number };

/**
 * Starts `entry` in a child process and waits until it listens. The load generator and the server
 * must not share an event loop: autocannon would steal the server's time and its cost would be
 * counted as the server's. In separate processes each gets a core of its own (on two cores).
 * The child inherits tsx's loader through execArgv, so `entry` may be TypeScript.
 */
export function startChildServer(entry: string, args: string[]): Promise<ChildServer> {
  const child = fork(entry, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${entry} ${args.join(' ')} exited (code ${code}) before listening`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', (message: FromServer) => {
      if (message.type !== 'listening') return;
      child.off('exit', onExit);
      resolve({
        url: `http://127.0.0.1:${message.port}`,
        cpuMicros: () => askCpu(child),
        stop: () => stopChild(child),
      });
    });
  });
}

function askCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    // A server that crashed mid-run must end the benchmark, not leave it waiting for an answer.
    const onExit = (code: number | null) => reject(new Error(`a benchmark server exited (code ${code}) during the run`));
    const onMessage = (message: FromServer) => {
      if (message.type !== 'cpu') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.micros);
    };
    child.once('exit', onExit);
    child.on('message', onMessage);
    child.send({ type: 'cpu' } satisfies ToServer);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The server side of the protocol: announces the port and answers CPU questions. It exits when
 * the benchmark goes away, so a crashed run leaves no server behind.
 */
export function serveBenchmarkChild(port: number): void {
  if (!process.send) {
    // Started by hand, to profile one side (`node --import tsx --cpu-prof ...`) under an external
    // load: say where it listens, and exit normally on Ctrl-C so that Node writes the profile.
    console.log(`listening on http://127.0.0.1:${port}`);
    process.on('SIGINT', () => process.exit(0));
    return;
  }
  const send = (message: FromServer) => process.send?.(message);
  process.on('message', (message: ToServer) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'listening', port });
}
