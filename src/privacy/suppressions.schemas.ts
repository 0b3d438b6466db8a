import { Type } from 'typebox';

export const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });
export const EmailInput = Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false });
export const Added = Type.Object({ suppressed: Type.Literal(true), created: Type.Boolean({ description: 'false when the address was already on the list' }) });
export const CheckResult = Type.Object({ suppressed: Type.Boolean() });
export const ListQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }), cursor: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export const SuppressionList = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String({ description: 'The keyed hash of the address (hex); the address itself is not stored' }),
      source: Type.String({ description: 'api, or objection (added by an objection request)' }),
      created_at: Type.String({ format: 'date-time' }),
    }),
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
