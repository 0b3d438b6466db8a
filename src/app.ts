import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { createAuditLog, withAuditCipher } from './audit/index.js';
import { createBackups } from './backup/index.js';
import { jwksRoutes } from './crypto/jwks.routes.js';
import { deriveKey } from './crypto/root-key.js';
import { createIdentity } from './identity/index.js';
import { createDsrModule } from './privacy/dsr/index.js';
import { createConsentAndRetention } from './privacy/consent-and-retention.js';
import { createTenancy, platformTenantRoutes } from './tenancy/index.js';
import { createVault, keyringFor } from './vault/index.js';
import { createWebhookModule } from './webhooks/index.js';
import type { Clock } from './platform/clock.js';
import { systemClock } from './platform/clock.js';
import type { Database } from './platform/db/index.js';
import {
  createRateLimiter,
  frameworkErrors,
  healthRoutes,
  installErrorHandling,
  registerOpenApi,
  registerSecurityHeaders,
  validatorCompiler,
} from './platform/http/index.js';
import type { RateLimiter } from './platform/http/index.js';
import { JobQueue, Worker } from './platform/jobs/index.js';
import { createMailer } from './platform/mail/index.js';
import type { Mailer } from './platform/mail/index.js';
import { createLogger } from './platform/log/logger.js';
import type { Logger } from './platform/log/logger.js';
import { connectRedis } from './platform/redis.js';
import { securityTxtRoutes } from './trust/security-txt.routes.js';
import { webRoutes } from './web/web.routes.js';
import { PACKAGE_VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` exempts a route from rate limits (health checks); `'auth'` adds the stricter auth bucket. */
    rateLimit?: false | 'auth';
  }
  interface FastifyInstance {
    /** Shared limiter; authentication draws per-account points from it once it knows the caller. */
    rateLimiter: RateLimiter;
    /** The durable job queue; modules register handlers and schedules on it while the app is built. */
    jobs: JobQueue;
    mailer: Mailer;
    /** Runs queued jobs; main starts it after listen, and closing the app stops it. */
    worker: Worker;
  }
}

export interface AppDependencies {
  config: Config;
  database: Database;
  /** The root key: every key hierarchy derives from it (see docs/decisions/0009). */
  rootKey: Buffer;
  logger?: Logger;
  clock?: Clock;
}

export type App = FastifyInstance;

/**
 * The composition root: builds every module with its dependencies and registers its routes.
 * It owns nothing global, so tests build as many independent apps as they like.
 */
export async function buildApp({ config, database: opened, rootKey, logger, clock = systemClock }: AppDependencies): Promise<App> {
  const log = logger ?? createLogger(config.logLevel);
  // One keyring for the vault and the audit log's personal fields: every module's transactions
  // carry it, so any audit entry they write is encrypted under its data subject's key.
  const keyring = keyringFor(config.vault, rootKey, clock);
  const database = { ...opened, db: withAuditCipher(opened.db, keyring) };
  const app = Fastify({
    loggerInstance: log,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: config.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 500 },
    frameworkErrors,
    ...(config.tls ? { https: tlsOptions(config.tls) } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  const redis: Redis | null = config.redisUrl ? connectRedis(config.redisUrl) : null;
  const rateLimiter = createRateLimiter(config.rateLimit, redis);
  app.decorate('rateLimiter', rateLimiter);

  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app);
  // Only JSON bodies: anything else is a 415, not a string handed to a handler expecting an object.
  app.removeContentTypeParser(['text/plain']);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const policy = request.routeOptions.config.rateLimit;
    if (policy === false) return;
    await rateLimiter.consume('ip', request.ip);
    if (policy === 'auth') await rateLimiter.consume('auth', request.ip);
  });

  registerSecurityHeaders(app);
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins, credentials: true, maxAge: 600 });
  }
  await registerOpenApi(app, config.publicUrl, PACKAGE_VERSION);

  const jobs = new JobQueue({ db: database.db, clock, logger: log, config: config.jobs });
  const mailer = createMailer({ queue: jobs, db: database.db, clock, smtpUrl: config.smtpUrl, mailFrom: config.mailFrom, sealingKey: deriveKey(rootKey, 'mail') });
  const worker = new Worker(jobs, log);
  app.decorate('jobs', jobs);
  app.decorate('mailer', mailer);
  app.decorate('worker', worker);

  const startedAt = clock.now();
  await app.register(healthRoutes, { database, redis });
  await app.register(securityTxtRoutes, { config, startedAt });
  // The dashboard (web/, built by Vite) at `/` and its page paths, under the same headers and CSP.
  await app.register(webRoutes);
  await app.register(jwksRoutes, { db: database.db, clock });

  const tenancy = createTenancy({ database, clock, mailer, jobs, publicUrl: config.publicUrl, rootKey, plansJson: config.plansJson });
  const identity = await createIdentity({ config, database, clock, redis, jobs, mailer, rateLimiter, rootKey, logger: log, isInvited: tenancy.isInvited, orgsOf: tenancy.orgsOf, soleOwnerOrgs: tenancy.soleOwnerOrgs, revokeOrgGrantsOfClaimedAccount: tenancy.revokeGrantsOfClaimedAccount });
  await identity.register(app);
  await app.register(platformTenantRoutes, { db: database.db, requirePlatform: identity.requirePlatform });
  const { requireUserOrKey } = await tenancy.register(app, identity.requireUser, identity.stepUp);
  const auditLog = createAuditLog({ config, database, clock, jobs, rootKey, logger: log });
  await auditLog.register(app, requireUserOrKey);
  const vault = createVault({ db: database.db, config: config.vault, rootKey, clock, jobs, logger: log, keyring });
  app.decorate('vault', vault);
  await vault.register(app, requireUserOrKey);
  const consentAndRetention = createConsentAndRetention({ db: database.db, clock, jobs, vault, stepUp: identity.stepUp, logger: log });
  await consentAndRetention.register(app, requireUserOrKey);
  const webhooks = createWebhookModule({ db: database.db, clock, jobs, env: config.env, secretsKey: deriveKey(rootKey, 'secrets') });
  await webhooks.register(app, requireUserOrKey);
  const dsrModule = createDsrModule({ db: database.db, clock, jobs, mailer, vault, webhooks: webhooks.webhooks, rootKey, publicUrl: config.publicUrl, memberData: identity.memberData, consentHistory: consentAndRetention.consentHistory });
  consentAndRetention.exportDsrRequests((row) => dsrModule.dsr.viewOf(row));
  await dsrModule.register(app, requireUserOrKey);
  await createBackups({ config, database, rootKey, clock, jobs, logger: log, mailer }).register(app, identity.requirePlatform);

  // Runs after the server has drained its requests: in-flight jobs finish before the database closes.
  app.addHook('onClose', async () => {
    await worker.stop();
    if (redis) redis.disconnect();
  });
  return app;
}

// TLS 1.3 suites, then TLS 1.2 suites with forward secrecy (ECDHE) and AEAD only. Node's default
// list would also admit static-RSA key exchange on TLS 1.2.
const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

function tlsOptions(tls: NonNullable<Config['tls']>) {
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    minVersion: tls.minVersion,
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}
