import { Type } from 'typebox';
import type { Static } from 'typebox';

const Text = Type.String();
const Days = Type.Object({ days: Type.Integer(), source: Type.Union([Type.Literal('collection'), Type.Literal('category'), Type.Literal('org')]) });

export const ProcessingActivity = Type.Object({
  collection: Text,
  purposes: Type.Array(Text, { description: 'As declared in the privacy settings; empty when not declared' }),
  legal_basis: Type.Union([Text, Type.Null()], { description: 'Art. 6(1) basis as declared; null when not declared' }),
  data_subjects: Type.Array(Text),
  categories_of_data: Type.Array(Type.Object({ category: Text, records: Type.Integer(), retention: Days })),
  records: Type.Integer(),
  records_with_subject: Type.Integer(),
  declared: Type.Boolean({ description: 'false: records exist but the org has not declared why (a gap to close)' }),
});

export const Ropa = Type.Object({
  title: Text,
  generated_at: Type.String({ format: 'date-time' }),
  controller: Type.Object({ organization: Text, name: Type.Union([Text, Type.Null()]), contact: Type.Union([Text, Type.Null()]), dpo: Type.Union([Text, Type.Null()]) }),
  processing_activities: Type.Array(ProcessingActivity),
  files: Type.Object({ count: Type.Integer(), retention: Days }),
  consent: Type.Object({ purposes: Type.Array(Text), subjects_with_records: Type.Integer() }),
  recipients: Type.Object({ configured: Type.Boolean(), list: Type.Array(Type.Object({ name: Text, purpose: Text, country: Text })), note: Text }),
  transfers_outside_eu: Type.Object({ configured: Type.Boolean(), list: Type.Array(Type.Object({ country: Text, safeguard: Text })), note: Text }),
  security_measures: Type.Array(Text, { description: 'Art. 32 measures Rampart itself applies to this data' }),
});
export type Ropa = Static<typeof Ropa>;
