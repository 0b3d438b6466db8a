import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PROJECT_ROOT } from '../../platform/paths.js';

/** Static files of the privacy module, hand-written (public/): the consent banner and the ROPA page's stylesheet. */
const ASSETS = [
  { path: '/consent/banner.js', file: 'consent/banner.js', type: 'text/javascript; charset=utf-8', embedded: true, summary: 'The embeddable consent banner (script tag with data-org="<public id>")' },
  { path: '/consent/banner.css', file: 'consent/banner.css', type: 'text/css; charset=utf-8', embedded: true, summary: "The banner's stylesheet (banner.js loads it)" },
  { path: '/privacy/ropa.css', file: 'privacy/ropa.css', type: 'text/css; charset=utf-8', embedded: false, summary: 'The stylesheet of the printable record of processing' },
] as const;

// An hour in caches, then revalidated by ETag: a fixed banner reaches every site within the hour.
const CACHE_CONTROL = 'public, max-age=3600, must-revalidate';

/**
 * Serves the privacy module's static files, read once at start-up, each with a strong ETag. The
 * banner's are embedded by other origins, so theirs are the only responses whose resource policy
 * is `cross-origin` (`same-origin` would stop browsers from running the script on the org's site).
 */
export async function privacyAssetRoutes(app: FastifyInstance): Promise<void> {
  const embedded = new Set<string>(ASSETS.filter((asset) => asset.embedded).map((asset) => asset.path));
  app.addHook('onSend', async (request, reply, payload) => {
    if (embedded.has(request.routeOptions.url ?? '')) reply.header('cross-origin-resource-policy', 'cross-origin');
    return payload;
  });
  for (const asset of ASSETS) {
    const body = readFileSync(join(PROJECT_ROOT, 'public', asset.file));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    // Declared so the OpenAPI document says what is served (the fuzz tests hold responses to it).
    const response = {
      200: { description: asset.summary, content: { [asset.type.split(';')[0]!]: { schema: { type: 'string' } } } },
      304: { description: 'Not modified: the ETag matched', type: 'null' },
    };
    app.get(asset.path, { schema: { tags: ['privacy'], summary: asset.summary, response } }, async (request, reply) => {
      reply.header('cache-control', CACHE_CONTROL).header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.status(304).send();
      return reply.type(asset.type).send(body);
    });
  }
}
