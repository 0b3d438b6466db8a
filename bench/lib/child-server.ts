import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

/** A server running in its own process, as seen from the load generator. */
export interface ChildServer {
  url: string;
  /** CPU time (user + system) the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  /**
   * How late the server's event loop ran since the previous call (the first call starts the
   * monitor and returns NaNs). A loop that stays free stays near 0 whatever the load.
   */
  eventLoopDelay(): Promise<EventLoopDelay>;
  stop(): Promise<void>;
}

/** Event-loop delay percentiles, in milliseconds, from `perf_hooks.monitorEventLoopDelay`. */
export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Messages between the benchmark and a server process started by `startChildServer`. */
export type ToServer = { type: 'cpu' } | { type: 'loop' };
export type FromServer = { type: 'listening'; port: number } | { type: 'cpu'; micros: number } | ({ type: 'loop' } & EventLoopDelay);

/**
 * Starts `entry` in a child process and waits until it listens. The load generator and the server
 * must not share an event loop: autocannon would steal the server's time and its cost would be
 * counted as the server's. In separate processes each gets a core of its own (on two cores).
 * The child inherits tsx's loader through execArgv, so `entry` may be TypeScript. `env` is added to
 * this process's environment (UV_THREADPOOL_SIZE, for one, must be set before the child starts).
 */
export function startChildServer(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const child = fork(entry, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${entry} ${args.join(' ')} exited (code ${code}) before listening`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', (message: FromServer) => {
      if (message.type !== 'listening') return;
      child.off('exit', onExit);
      resolve({
        url: `http://127.0.0.1:${message.port}`,
        cpuMicros: async () => (await ask(child, 'cpu')).micros,
        eventLoopDelay: async () => {
          const { p50, p99, max } = await ask(child, 'loop');
          return { p50, p99, max };
        },
        stop: () => stopChild(child),
      });
    });
  });
}

function ask<T extends ToServer['type']>(child: ChildProcess, type: T): Promise<Extract<FromServer, { type: T }>> {
  return new Promise((resolve, reject) => {
    // A server that crashed mid-run must end the benchmark, not leave it waiting for an answer.
    const onExit = (code: number | null) => reject(new Error(`a benchmark server exited (code ${code}) during the run`));
    const onMessage = (message: FromServer) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as Extract<FromServer, { type: T }>);
    };
    child.once('exit', onExit);
    child.on('message', onMessage);
    child.send({ type } as ToServer);
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
  // Started on the first question only: its 1 ms timer would otherwise cost every benchmark a little.
  let loopDelay: IntervalHistogram | null = null;
  process.on('message', (message: ToServer) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    } else if (message.type === 'loop') {
      const histogram = loopDelay;
      send({ type: 'loop', ...(histogram ? readDelay(histogram) : { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }) });
      if (histogram) histogram.reset();
      else (loopDelay = monitorEventLoopDelay({ resolution: 1 })).enable();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'listening', port });
}

function readDelay(histogram: IntervalHistogram): EventLoopDelay {
  const ms = (nanoseconds: number) => nanoseconds / 1e6;
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
}
