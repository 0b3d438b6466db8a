import type { JsonSchema } from './schema-arbitrary.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface DeclaredResponse {
  /** Media type → schema, as declared. */
  content: Record<string, JsonSchema>;
}

/** One operation of the OpenAPI document, reduced to what a request generator and a checker need. */
export interface Operation {
  id: string;
  method: Method;
  template: string;
  parameters: Parameter[];
  /** The JSON body's schema; null when the operation takes no JSON body. */
  body: JsonSchema | null;
  bodyRequired: boolean;
  secured: boolean;
  responses: Record<string, DeclaredResponse>;
}

interface RawOperation {
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, RawOperation>>;
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Every operation in the document, whatever module added it. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const jsonBody = raw.requestBody?.content?.['application/json']?.schema ?? null;
      operations.push({
        id: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase() as Method,
        template,
        parameters: (raw.parameters ?? [])
          .filter((parameter) => parameter.in === 'path' || parameter.in === 'query' || parameter.in === 'header')
          .map((parameter) => ({ in: parameter.in as Parameter['in'], name: parameter.name, required: parameter.required ?? false, schema: parameter.schema ?? {} })),
        body: jsonBody,
        bodyRequired: raw.requestBody?.required ?? false,
        secured: (raw.security ?? []).length > 0,
        responses: Object.fromEntries(
          Object.entries(raw.responses ?? {}).map(([status, response]) => [
            status,
            { content: Object.fromEntries(Object.entries(response.content ?? {}).map(([type, media]) => [type, media.schema ?? {}])) },
          ]),
        ),
      });
    }
  }
  return operations;
}
