import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { httpErrors } from '../platform/http/index.js';
import { PROJECT_ROOT } from '../platform/paths.js';
import { PAGE_ROOTS } from './pages.js';

/** Where `npm run build:web` (Vite) writes the dashboard: `index.html` and hashed `assets/`. */
export const WEB_BUILD_DIR = join(PROJECT_ROOT, 'dist', 'web');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};


interface Asset {
  body: Buffer;
  type: string;
}

/** The built files, read once at start: a few hundred kilobytes, served from memory. */
function loadBuild(dir: string): { index: Buffer; assets: Map<string, Asset> } | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = CONTENT_TYPES[extname(name)];
      if (type) assets.set(name, { body: readFileSync(join(assetDir, name)), type });
    }
  }
  return { index: readFileSync(indexPath), assets };
}

/**
 * Serves the dashboard at `/`: hashed assets (cached for a year: their names change with their
 * content) and, for the dashboard's page paths (pages.ts), `index.html`, which the app routes in
 * the browser.
 * Everything goes out under the API's own strict CSP (src/platform/http/security-headers.ts):
 * the build holds no inline script or style and loads nothing from another origin.
 */
export async function webRoutes(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const build = loadBuild(options.dir ?? WEB_BUILD_DIR);
  const hide = { hide: true };

  const sendIndex = (reply: FastifyReply) => {
    if (!build) throw httpErrors.unavailable('The dashboard is not built; run `npm run build:web` (npm start does it)');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(build.index);
  };

  app.get('/assets/*', { schema: hide }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const asset = build?.assets.get(name);
    if (!asset) throw httpErrors.not_found();
    return reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
  });

  const page = async (_request: unknown, reply: FastifyReply) => sendIndex(reply);
  app.get('/', { schema: hide }, page);
  for (const root of PAGE_ROOTS) {
    app.get(`/${root}`, { schema: hide }, page);
    app.get(`/${root}/*`, { schema: hide }, page);
  }
}
