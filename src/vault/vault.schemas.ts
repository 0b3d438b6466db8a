import { Type } from 'typebox';

/** Collection, record and file names: safe in paths and logs, never a traversal. */
export const NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$';
const Name = Type.String({ pattern: NAME_PATTERN, description: '1 to 128 letters, digits, "_", "." or "-", starting with a letter or digit' });

/** What kind of personal data a record holds; retention and records of processing go by it. */
export const CATEGORIES = ['contact', 'identity', 'behaviour', 'financial', 'health', 'location', 'communication', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

const Time = Type.String({ format: 'date-time' });
const SubjectId = Type.String({ minLength: 1, maxLength: 256, description: "The host application's id of the person the data is about" });

// Params are plain strings, checked in the handler: a bad name must be the vault's own 400, and an
// org id that is not a UUID a 404 like any org the caller cannot see.
export const RecordParams = Type.Object({ org: Type.String({ maxLength: 64 }), collection: Type.String({ maxLength: 256 }), key: Type.String({ maxLength: 256 }) });
export const CollectionParams = Type.Object({ org: Type.String({ maxLength: 64 }), collection: Type.String({ maxLength: 256 }) });
export const FileParams = Type.Object({ org: Type.String({ maxLength: 64 }), key: Type.String({ maxLength: 256 }) });

export const RecordInput = Type.Object(
  {
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'Any JSON object; stored encrypted whole' }),
    subject_id: Type.Optional(Type.Union([SubjectId, Type.Null()])),
    category: Type.Optional(Type.Enum(CATEGORIES, { default: 'other' })),
  },
  { additionalProperties: false },
);

export const RecordView = Type.Object({
  collection: Name,
  key: Name,
  data: Type.Record(Type.String(), Type.Unknown()),
  subject_id: Type.Union([Type.String(), Type.Null()]),
  category: Type.Enum(CATEGORIES),
  created_at: Time,
  updated_at: Time,
});

export const RecordListQuery = Type.Object(
  {
    subject_id: Type.Optional(SubjectId),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const RecordList = Type.Object({ data: Type.Array(RecordView), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const FileView = Type.Object({ key: Name, size: Type.Integer(), content_type: Type.String(), created_at: Time, updated_at: Time });

/** An owner's stated reason to read a restricted subject's data (audited); printable ASCII, as any header. */
export const AccessReasonHeaders = Type.Object({
  'x-rampart-access-reason': Type.Optional(
    Type.String({ minLength: 1, maxLength: 500, pattern: '^[\\x20-\\x7e]+$', description: "Why an owner reads a restricted data subject's data (GDPR Art. 18); recorded in the audit log" }),
  ),
});
