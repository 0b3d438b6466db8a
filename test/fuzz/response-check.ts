import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import type { Operation } from './openapi-operations.js';
import type { JsonSchema } from './schema-arbitrary.js';

// ajv-formats is CommonJS; under ESM its default export sits one level down.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** What a stack trace or an internal path looks like in a body. */
const INTERNALS = /\n\s+at [\w.<>]+ \(|\.(?:ts|js|cjs|mjs):\d+:\d+|node_modules|file:\/\/\/|\bsrc\/[\w/-]+\.ts\b|syntax error at or near|violates (?:check|foreign key|unique|not-null) constraint/i;

/**
 * Checks one response against the operation's contract: no 5xx, a declared status, a body that
 * matches the schema declared for that status, no internals, and none of the forbidden values.
 * Returns the problems found (empty when the response is acceptable).
 */
export function createResponseChecker(forbidden: () => string[]) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  const compiled = new Map<JsonSchema, ValidateFunction>();
  const validatorOf = (schema: JsonSchema): ValidateFunction => {
    let validate = compiled.get(schema);
    if (!validate) {
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    return validate;
  };

  return function check(operation: Operation, response: LightMyRequestResponse): string[] {
    const problems: string[] = [];
    const status = response.statusCode;
    if (status >= 500) problems.push(`answered ${status}`);
    const declared = operation.responses[String(status)] ?? operation.responses[`${String(status)[0]}XX`] ?? operation.responses.default;
    if (!declared) problems.push(`status ${status} is not declared (declared: ${Object.keys(operation.responses).join(', ')})`);
    const body = response.body;
    if (INTERNALS.test(body)) problems.push('the body shows internals (a stack trace, a path or SQL)');
    const lower = body.toLowerCase();
    for (const value of forbidden()) if (lower.includes(value.toLowerCase())) problems.push('the body holds another tenant’s data or the canary');
    if (declared && body !== '') {
      const mediaTypes = Object.keys(declared.content);
      const type = String(response.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (mediaTypes.length === 0) problems.push(`status ${status} declares no body, yet one came (${type})`);
      else if (type === 'application/json') {
        const schema = declared.content['application/json'];
        if (!schema) problems.push(`a JSON body where ${mediaTypes.join(', ')} is declared`);
        else if (schema.format === 'binary') {
          // A stored file served with the type it was uploaded with: its bytes are its own.
        } else {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            problems.push('the body is not the JSON its content type says');
          }
          const validate = validatorOf(schema);
          if (parsed !== undefined && !validate(parsed)) problems.push(`the body does not match the ${status} schema: ${ajv.errorsText(validate.errors)}`);
        }
      } else {
        // A non-JSON body (a file, an export, a page): the declared schema must admit it as text.
        const schema = declared.content[type] ?? declared.content['application/json'] ?? declared.content['*/*'];
        if (!schema) problems.push(`content type ${type} is not declared for ${status}`);
        else if (!validatorOf(schema)(body)) problems.push(`a ${type} body where the ${status} schema admits no text`);
      }
    }
    return problems;
  };
}
