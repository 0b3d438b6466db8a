import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerDeliveryJob } from './delivery.job.js';
import { webhookRoutes } from './webhooks.routes.js';
import { createWebhooks } from './webhooks.service.js';
import type { WebhookDependencies } from './webhooks.service.js';

export { verifySignature, signPayload, SIGNATURE_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER } from './signature.js';
export { WEBHOOK_DELIVERY_JOB, WEBHOOK_EVENTS } from './webhooks.service.js';
export type { Webhooks, WebhookEventType } from './webhooks.service.js';

/** Builds org webhooks: endpoints, signed events, deliveries as retried jobs. */
export function createWebhookModule(deps: WebhookDependencies) {
  const webhooks = createWebhooks(deps);
  registerDeliveryJob({ db: deps.db, clock: deps.clock, jobs: deps.jobs, webhooks, env: deps.env });
  return {
    webhooks,
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      await app.register(webhookRoutes, { webhooks, requireUserOrKey });
    },
  };
}
