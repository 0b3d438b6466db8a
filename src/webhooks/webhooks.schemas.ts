import { Type } from 'typebox';
import { WEBHOOK_EVENTS } from './webhooks.service.js';

const Time = Type.String({ format: 'date-time' });
const EventType = Type.Enum(WEBHOOK_EVENTS);

export const EndpointParams = Type.Object({ org: Type.String({ maxLength: 64 }), id: Type.String({ format: 'uuid' }) });
export const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });

export const EndpointInput = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'https:// in production; http://127.0.0.1 or localhost allowed in development and tests' }),
    events: Type.Optional(Type.Array(EventType, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, description: 'Events to send; all of them by default' })),
  },
  { additionalProperties: false },
);

export const EndpointView = Type.Object({ id: Type.String(), url: Type.String(), events: Type.Array(Type.String()), created_at: Time });
export const CreatedEndpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  created_at: Time,
  secret: Type.String({ description: 'The signing secret, shown this once: verify Rampart-Signature with it' }),
});
export const EndpointList = Type.Object({ data: Type.Array(EndpointView) });

export const DeliveryQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }), cursor: Type.Optional(Type.String({ maxLength: 128 })) },
  { additionalProperties: false },
);
export const DeliveryList = Type.Object({
  data: Type.Array(
    Type.Object({
      event_id: Type.String(),
      event_type: Type.String(),
      attempt: Type.Integer(),
      at: Time,
      status_code: Type.Union([Type.Integer(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
      duration_ms: Type.Integer(),
      delivered: Type.Boolean(),
    }),
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
