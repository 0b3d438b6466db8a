import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';

/** The subset of JSON Schema that TypeBox emits into the OpenAPI document. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/**
 * Values a careless parser or a string concatenation would trip on: boundaries of the string
 * types, unicode that changes length when normalised or encoded, control characters, injection
 * shapes, and names that reach into a prototype.
 */
const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '\u202E\u0066\u0064\u0070',
  '\uFEFF',
  'e\u0301',
  '\u0130\u0131\u017F',
  '𝕏'.repeat(300),
  '🏳️‍🌈',
  '%00',
  '%',
  '../../../../etc/passwd',
  "' or '1'='1",
  "'; drop table users; --",
  '"\\',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '__proto__',
  'constructor',
  'prototype',
  'NaN',
  '-0',
  '1e309',
  '9007199254740993',
  'null',
  'true',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
];

export const hostileString: Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 64 }),
  // Longer than any maxLength in the API, short of the body limit.
  fc.integer({ min: 257, max: 20_000 }).map((length) => 'x'.repeat(length)),
  fc.nat(300).map((length) => '\u00e9'.repeat(length)),
);

/** A value of the wrong kind for almost any field. */
export const hostileValue: Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, [], {}),
  fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string()), { maxKeys: 4 }),
);

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

function stringFor(schema: JsonSchema): Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 64;
  const fits = (value: string) => value.length >= minLength && value.length <= maxLength;
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString());
  if (schema.format === 'email') return fc.emailAddress().filter(fits);
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  return fc.oneof(
    fc.string({ minLength, maxLength: Math.min(maxLength, 64) }),
    fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 16) }).filter(fits),
    fc.constant('x'.repeat(maxLength)),
  );
}

function numberFor(schema: JsonSchema, integer: boolean): Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? 1_000_000;
  const inner = integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  return fc.oneof(inner, fc.constantFrom(min, max));
}

function objectFor(schema: JsonSchema, depth: number): Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const known = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, validValue(property, depth + 1)])),
    { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) },
  );
  if (schema.additionalProperties === false || Object.keys(properties).length > 0) return known;
  // Free-form objects (vault data, audit metadata): any JSON.
  return fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }) as Arbitrary<unknown>, { maxKeys: 6 });
}

/** Values the schema accepts, boundaries included. */
export function validValue(schema: JsonSchema, depth = 0): Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => validValue(alternative, depth)));
  if (schema.allOf) return validValue(Object.assign({}, ...schema.allOf) as JsonSchema, depth);
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => validValue({ ...schema, type }, depth)));
  switch (types[0]) {
    case 'string':
      return stringFor(schema);
    case 'integer':
      return numberFor(schema, true);
    case 'number':
      return numberFor(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validValue(schema.items ?? {}, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: schema.maxItems ?? 5,
      });
    case 'object':
      return objectFor(schema, depth);
    default:
      return depth > 2 ? fc.string() : fc.jsonValue({ maxDepth: 2 });
  }
}

/** JSON nested far deeper than any schema allows. */
export const deepNesting: Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 100, max: 5000 }), array: fc.boolean() })
  .map(({ depth, array }) => (array ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Keys that reach for Object.prototype, inserted as own keys of the JSON text. */
const PROTOTYPE_KEYS = ['"__proto__":{"isAdmin":true,"role":"owner"}', '"constructor":{"prototype":{"isAdmin":true}}', '"__proto__":null'];

/**
 * A request body as JSON text: valid for the schema, valid with one field replaced by a hostile
 * value, a field dropped, an unknown field, prototype keys, deep nesting, or the wrong root type.
 */
export function bodyText(schema: JsonSchema): Arbitrary<string> {
  const valid = validValue(schema);
  const properties = Object.keys(schema.properties ?? {});
  const mutated = fc.record({ base: valid, field: properties.length ? fc.constantFrom(...properties) : fc.constant('x'), value: hostileValue }).map(({ base, field, value }) =>
    JSON.stringify(base && typeof base === 'object' && !Array.isArray(base) ? { ...base, [field]: value } : value),
  );
  const dropped = fc.record({ base: valid, field: fc.constantFrom(...(properties.length ? properties : ['x'])) }).map(({ base, field }) => {
    if (!base || typeof base !== 'object') return JSON.stringify(base);
    const { [field]: _dropped, ...rest } = base as Record<string, unknown>;
    return JSON.stringify(rest);
  });
  const prototyped = fc.record({ base: valid, key: fc.constantFrom(...PROTOTYPE_KEYS) }).map(({ base, key }) => {
    const text = JSON.stringify(base && typeof base === 'object' && !Array.isArray(base) ? base : {});
    return text === '{}' ? `{${key}}` : `{${key},${text.slice(1)}`;
  });
  return fc.oneof(
    { weight: 5, arbitrary: valid.map((value) => JSON.stringify(value)) },
    { weight: 4, arbitrary: mutated },
    { weight: 1, arbitrary: dropped },
    { weight: 1, arbitrary: valid.map((value) => JSON.stringify(value && typeof value === 'object' && !Array.isArray(value) ? { ...value, unexpected_field: 1 } : value)) },
    { weight: 1, arbitrary: prototyped },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: hostileValue.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"a":}', '[1,]', 'nul', '"\\ud800"', '{"a":1}{"b":2}') },
  );
}
