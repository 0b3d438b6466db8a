import type { AddressInfo } from 'node:net';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { RELAXED_LIMITS } from '../identity/support.js';

export interface RunningServer {
  t: TestApp;
  /** http://127.0.0.1:<port>, the origin the browser talks to. */
  url: string;
  close(): Promise<void>;
}

/**
 * A real HTTP server of the whole app (API and dashboard) on a free port, on the test database.
 * The worker runs queued jobs (mail among them) as it would in production.
 */
export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_JOBS_POLL_MS: '200', ...env });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  t.app.worker.start();
  const { port } = t.app.server.address() as AddressInfo;
  return { t, url: `http://127.0.0.1:${port}`, close: () => t.close() };
}
