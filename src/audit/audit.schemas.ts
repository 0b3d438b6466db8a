import { Type } from 'typebox';
import { SignedCheckpoint } from './proof-document.js';

/** Request and response schemas of the audit routes (API.md "Audit log"). */

const Time = Type.String({ format: 'date-time' });
const Hex = Type.String({ pattern: '^[0-9a-f]*$' });

// A dotted lower-case name of two to five parts, e.g. `invoice.paid` or `report.pdf.downloaded`.
export const ACTION_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*){1,4}$';
// The list filter: a name of one part or more, or a prefix ending in `.*` (`member.*`).
const ACTION_FILTER_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*){0,4}(\\.\\*)?$';
// Identifiers a host names (its users, documents): printable, no control characters.
const ExternalId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

export const AuditParams = Type.Object({ org: Type.String({ maxLength: 64 }) });

const Reference = (description: string) => Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }, { description });

export const AuditEvent = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'Position in the org chain, from 0, without gaps' }),
  at: Time,
  action: Type.String(),
  actor: Reference('Who acted: user, api_key, platform or system'),
  target: Type.Union([Reference('What the action was done to'), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  prev_hash: Hex,
  hash: Hex,
});

const FILTERS = {
  action: Type.Optional(Type.String({ maxLength: 100, pattern: ACTION_FILTER_PATTERN, description: 'An action, or a prefix such as `member.*`' })),
  actor_id: Type.Optional(ExternalId),
  target_id: Type.Optional(ExternalId),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'From this time on (inclusive)' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Before this time (exclusive)' })),
};

export const ListQuery = Type.Object(
  { ...FILTERS, limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);

export const EventPage = Type.Object({ data: Type.Array(AuditEvent), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const ExportQuery = Type.Object({ ...FILTERS, format: Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { default: 'ndjson' }) }, { additionalProperties: false });

/** Actor types a host may name; Rampart's own principals (api_key, platform) are never claimed by a host. */
const HostActor = Type.Object(
  { type: Type.Union([Type.Literal('user'), Type.Literal('system')], { description: "`user`: the host's own user, by the host's id" }), id: ExternalId },
  { additionalProperties: false },
);

export const NewEvent = Type.Object(
  {
    action: Type.String({ maxLength: 100, pattern: ACTION_PATTERN, description: 'Lower-case dotted name; the prefixes of Rampart’s own actions are reserved' }),
    actor: Type.Optional(HostActor),
    target: Type.Optional(Type.Object({ type: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), id: ExternalId }, { additionalProperties: false })),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { description: 'A JSON object of at most 8 KiB serialized; no personal data' })),
  },
  { additionalProperties: false },
);

export const VerifyResult = Type.Object({
  valid: Type.Boolean(),
  entries: Type.Integer({ description: 'Entries checked' }),
  head: Type.Union([Type.Object({ seq: Type.Integer(), hash: Hex }), Type.Null()], { description: 'The last entry; null for an empty chain' }),
  first_invalid_seq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String({ description: 'What was found at first_invalid_seq (never entry contents)' })),
});

/** A signed tree head, exactly as proof documents carry it. */
export const Checkpoint = SignedCheckpoint;

export const CheckpointQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);

export const CheckpointPage = Type.Object({ data: Type.Array(Checkpoint), next_cursor: Type.Union([Type.String(), Type.Null()]) });

const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const InclusionQuery = Type.Object({ seq: Size, size: Size }, { additionalProperties: false });
export const ConsistencyQuery = Type.Object({ from: Size, to: Size }, { additionalProperties: false });

const PublicJwk = Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() });
export const AuditKeys = Type.Object({ keys: Type.Array(PublicJwk) });
