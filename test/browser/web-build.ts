import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/platform/paths.js';
import { WEB_BUILD_DIR } from '../../src/web/web.routes.js';

/** The newest modification time of any file under `dir`. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Builds the dashboard before the browser tests when its sources changed since the last build
 * (a build takes seconds; an unchanged one is skipped).
 */
export async function ensureWebBuild(): Promise<void> {
  const index = join(WEB_BUILD_DIR, 'index.html');
  const webDir = join(PROJECT_ROOT, 'web');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(webDir)) return;
  // A process of its own, as `npm run build:web` runs it: inside Vitest NODE_ENV is `test`, which
  // would give React's development build.
  const { NODE_ENV: _test, ...env } = process.env;
  await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(webDir, 'vite.config.ts')], { env, cwd: PROJECT_ROOT });
}
