import { Type } from 'typebox';
import { PURPOSE_PATTERN } from '../settings/settings.schemas.js';

const SubjectId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$', description: "The host application's id of the person (printable ASCII, no spaces)" });
const Purposes = Type.Record(Type.String({ pattern: PURPOSE_PATTERN }), Type.Boolean(), {
  minProperties: 1,
  maxProperties: 23,
  description: 'Purpose to choice: necessary (always true), analytics, marketing and the org\'s own; a purpose left out is refused',
});
const PolicyVersion = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$', description: 'The version of the privacy policy the person saw' });

export const ConsentInput = Type.Object(
  {
    subject_id: SubjectId,
    purposes: Purposes,
    source: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_.:-]*$', description: 'Where the choice was made, e.g. signup_form, support_call' }),
    policy_version: PolicyVersion,
  },
  { additionalProperties: false },
);

export const PublicConsentInput = Type.Object({ subject_id: SubjectId, purposes: Purposes, policy_version: PolicyVersion }, { additionalProperties: false });

export const ConsentView = Type.Object({
  id: Type.String(),
  subject_id: Type.String(),
  purposes: Type.Record(Type.String(), Type.Boolean()),
  source: Type.String(),
  policy_version: Type.String(),
  signal: Type.Union([Type.Literal('gpc'), Type.Literal('dnt'), Type.Null()], { description: 'The browser opt-out signal that turned non-essential purposes off' }),
  recorded_at: Type.String({ format: 'date-time' }),
  proof: Type.Object({ ip: Type.Union([Type.String(), Type.Null()], { description: 'IPv4 /24 or IPv6 /48' }), user_agent: Type.Union([Type.String(), Type.Null()], { description: 'The first 120 characters' }) }),
});

export const PublicConsentView = Type.Object({ id: Type.String(), purposes: Type.Record(Type.String(), Type.Boolean()), signal: Type.Union([Type.Literal('gpc'), Type.Literal('dnt'), Type.Null()]), recorded_at: Type.String({ format: 'date-time' }) });

export const SubjectConsents = Type.Object({ current: ConsentView, history: Type.Array(ConsentView, { description: 'Newest first, up to 500' }) });

export const SubjectParams = Type.Object({ org: Type.String({ maxLength: 64 }), subject_id: Type.String({ maxLength: 256 }) });
export const PublicParams = Type.Object({ public_id: Type.String({ maxLength: 64 }) });
