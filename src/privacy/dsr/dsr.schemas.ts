import { Type } from 'typebox';
import { NAME_PATTERN } from '../../vault/vault.schemas.js';

export const DSR_TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction', 'objection'] as const;
export const DSR_STATUSES = ['received', 'in_progress', 'completed', 'rejected'] as const;

const Time = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const SubjectId = Type.String({ minLength: 1, maxLength: 256, description: "The host application's id of the person (as the vault's subject_id)" });
const Reason = Type.String({ minLength: 1, maxLength: 2000 });
const Name = Type.String({ pattern: NAME_PATTERN });

export const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });
export const DsrParams = Type.Object({ org: Type.String({ maxLength: 64 }), id: Type.String({ format: 'uuid' }) });

export const Correction = Type.Object(
  { collection: Name, key: Name, data: Type.Record(Type.String(), Type.Unknown(), { description: 'The corrected record data; replaces the old data whole' }) },
  { additionalProperties: false },
);

export const CreateDsr = Type.Object(
  {
    type: Type.Enum(DSR_TYPES),
    subject_id: SubjectId,
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: "The person's address: objection puts it on the suppression list; access shows its suppression status" })),
    corrections: Type.Optional(Type.Array(Correction, { minItems: 1, maxItems: 100, description: 'Rectification only: the records to correct and their corrected data' })),
  },
  { additionalProperties: false },
);

export const DsrView = Type.Object({
  id: Type.String(),
  type: Type.Enum(DSR_TYPES),
  subject_id: Type.String(),
  status: Type.Enum(DSR_STATUSES),
  created_at: Time,
  due_at: Time,
  extension_reason: Nullable(Type.String()),
  rejection_reason: Nullable(Type.String()),
  closed_at: Nullable(Time),
  erase_after: Nullable(Time),
  overdue: Type.Boolean(),
});

export const HistoryEntry = Type.Object({
  seq: Type.Integer(),
  at: Time,
  event: Type.String(),
  actor: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }),
  detail: Type.Record(Type.String(), Type.Unknown()),
  previous: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "A rectified record's version before the correction; kept only while the request is open" })),
});

export const DsrDetail = Type.Intersect([DsrView, Type.Object({ history: Type.Array(HistoryEntry) })]);

export const DsrListQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(DSR_STATUSES)),
    overdue: Type.Optional(Type.Boolean({ description: 'Only open requests past their deadline' })),
    due_within_days: Type.Optional(Type.Integer({ minimum: 0, maximum: 90, description: 'Only open requests due within this many days (soon-due), overdue ones included' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export const DsrList = Type.Object({ data: Type.Array(DsrView), next_cursor: Nullable(Type.String()) });

export const StatusInput = Type.Object(
  { status: Type.Enum(['in_progress', 'completed', 'rejected'] as const), reason: Type.Optional(Reason) },
  { additionalProperties: false },
);

export const ExtensionInput = Type.Object(
  { months: Type.Union([Type.Literal(1), Type.Literal(2)], { description: 'How many months beyond the 30 days (Art. 12(3): at most two)' }), reason: Reason },
  { additionalProperties: false },
);

export const ConfirmationInput = Type.Object({}, { additionalProperties: false });
export const Confirmation = Type.Object({ request_id: Type.String(), confirmed_at: Time });

export const Receipt = Type.Object({
  receipt: Type.Record(Type.String(), Type.Unknown(), { description: 'What was erased where (rampart-erasure-receipt/1)' }),
  signature: Type.String({ description: 'Compact JWS (EdDSA) whose payload is the receipt; keys at /.well-known/rampart-receipt-keys.json' }),
});
