import { Ajv } from 'ajv';
import type { Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const COMMON: Options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false };

// Bodies are JSON and must already have the right types: `{"age": "12"}` is a client bug that
// coercion would hide. Query strings, params and headers are text by nature and are coerced.
const strict = addFormats.default(new Ajv({ ...COMMON, coerceTypes: false }));
const coercing = addFormats.default(new Ajv({ ...COMMON, coerceTypes: 'array' }));

/** Fastify validator compiler: strict types for bodies, coercion for the text parts of a request. */
export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema);
