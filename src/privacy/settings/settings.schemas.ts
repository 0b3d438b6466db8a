import { Type } from 'typebox';
import type { Static } from 'typebox';

/** The purposes every org has; an org adds its own (consent_purposes). `necessary` cannot be refused. */
export const BUILT_IN_PURPOSES = ['necessary', 'analytics', 'marketing'] as const;

/** GDPR Art. 6(1)(a)-(f). */
export const LEGAL_BASES = ['consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

export const PURPOSE_PATTERN = '^[a-z][a-z0-9_]{0,39}$';
const Purpose = Type.String({ pattern: PURPOSE_PATTERN, description: 'lower-case letters, digits and "_", up to 40' });
// A web origin as browsers send it: scheme, host, optional port; nothing after.
const Origin = Type.String({ pattern: '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$', maxLength: 253, description: 'e.g. https://www.example.com (no path, no trailing slash)' });
const Days = Type.Integer({ minimum: 1, maximum: 3650 });
const Name = Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$' });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
const Country = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' });

export const RetentionOverrides = Type.Object(
  {
    collections: Type.Optional(Type.Record(Name, Days, { maxProperties: 200, additionalProperties: false })),
    categories: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z]{1,32}$' }), Days, { maxProperties: 20, additionalProperties: false })),
    files: Type.Optional(Days),
  },
  { additionalProperties: false, description: 'Days to keep records, per collection (wins) or category; the org default otherwise' },
);
export type RetentionOverrides = Static<typeof RetentionOverrides>;

export const Processing = Type.Record(
  Name,
  Type.Object(
    {
      purposes: Type.Array(Text(200), { minItems: 1, maxItems: 20 }),
      legal_basis: Type.Enum(LEGAL_BASES),
      data_subjects: Type.Optional(Type.Array(Text(100), { maxItems: 20 })),
    },
    { additionalProperties: false },
  ),
  { maxProperties: 200, additionalProperties: false, description: 'Per collection: why its data is processed and on which legal basis (Art. 30(1)(b), Art. 6)' },
);
export type Processing = Static<typeof Processing>;

export const Recipients = Type.Array(Type.Object({ name: Text(200), purpose: Text(500), country: Country }, { additionalProperties: false }), { maxItems: 100 });
export type Recipients = Static<typeof Recipients>;
export const Transfers = Type.Array(Type.Object({ country: Country, safeguard: Text(500) }, { additionalProperties: false }), { maxItems: 50 });
export type Transfers = Static<typeof Transfers>;
export const Controller = Type.Object({ name: Type.Optional(Text(200)), contact: Type.Optional(Text(300)), dpo: Type.Optional(Text(300)) }, { additionalProperties: false });
export type Controller = Static<typeof Controller>;

export const PrivacySettingsChanges = Type.Object(
  {
    consent_purposes: Type.Optional(Type.Array(Purpose, { maxItems: 20, uniqueItems: true, description: 'Consent purposes of the org, besides necessary, analytics and marketing' })),
    allowed_origins: Type.Optional(Type.Array(Origin, { maxItems: 20, uniqueItems: true, description: 'Web origins whose pages may call the public consent endpoint (CORS)' })),
    retention: Type.Optional(RetentionOverrides),
    processing: Type.Optional(Processing),
    recipients: Type.Optional(Recipients),
    transfers: Type.Optional(Transfers),
    controller: Type.Optional(Controller),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PrivacySettingsChanges = Static<typeof PrivacySettingsChanges>;

export const PrivacySettingsView = Type.Object({
  public_id: Type.String({ description: "Non-secret: put it in the consent banner's script tag" }),
  retention_days: Type.Integer({ description: 'The org default (PATCH /v1/orgs/{org})' }),
  consent_purposes: Type.Array(Type.String()),
  allowed_origins: Type.Array(Type.String()),
  retention: RetentionOverrides,
  processing: Processing,
  recipients: Recipients,
  transfers: Transfers,
  controller: Controller,
});
export type PrivacySettingsView = Static<typeof PrivacySettingsView>;

// Not a uuid format: a malformed org id answers 404 like any org the caller cannot see.
export const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });
