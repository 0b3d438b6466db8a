import Fastify from 'fastify';
import helmetPlugin from '@fastify/helmet';
import helmet from 'helmet';
import { registerSecurityHeaders, CONTENT_SECURITY_POLICY } from '../src/platform/http/security-headers.js';
import { serveBenchmarkChild } from './lib/child-server.js';
const v = process.argv[2];
const app = Fastify();
const opts = { contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY }, frameguard: { action: 'deny' as const }, referrerPolicy: { policy: 'no-referrer' as const }, hsts: false, crossOriginEmbedderPolicy: false };
if (v === 'rampart-headers') await registerSecurityHeaders(app);
if (v === 'helmet-only') await app.register(helmetPlugin, { global: true, ...opts });
if (v === 'static-headers') {
  const headers: Record<string, string> = {};
  helmet(opts)({} as never, { setHeader: (k: string, val: string) => { headers[k.toLowerCase()] = val; }, removeHeader: () => undefined } as never, () => undefined);
  headers['permissions-policy'] = 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()';
  headers['cache-control'] = 'no-store';
  console.error(Object.keys(headers).length, 'headers');
  app.addHook('onRequest', async (_req, reply) => { reply.headers(headers); });
}
app.get('/bench/ping', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port: 0 });
const a = app.server.address();
serveBenchmarkChild(typeof a === 'object' && a ? a.port : 0);
