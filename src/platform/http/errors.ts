import { Type } from 'typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The API's one error body: `{"error": {"code", "message", "request_id", "details"?}}`. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'snake_case, stable; switch on this, not on the message' }),
      message: Type.String(),
      request_id: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    }),
  },
  { description: 'Every failure, whatever the route' },
);

/** Response schemas for the given error statuses, to spread into a route's `response`. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
}

export interface ErrorDetail {
  path: string;
  message: string;
}

/**
 * A failure the client can act on. Services throw these; the error handler turns them into the
 * one error shape. The message is shown to clients, so it never holds secrets or personal data.
 */
export class AppError extends Error {
  override readonly name = 'AppError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

export interface ErrorDefinition {
  status: number;
  message: string;
}

/**
 * Declares a domain's error catalogue: each code with its status and default message. Returns
 * one factory per code, so call sites read `errors.not_found()` and cannot misspell a code.
 */
export function defineErrors<const T extends Record<string, ErrorDefinition>>(
  catalogue: T,
): { [K in keyof T]: (message?: string, options?: AppError['options']) => AppError } {
  return Object.fromEntries(
    Object.entries(catalogue).map(([code, { status, message }]) => [
      code,
      (override?: string, options?: AppError['options']) => new AppError(status, code, override ?? message, options),
    ]),
  ) as never;
}

/** Errors any route may answer. */
export const httpErrors = defineErrors({
  invalid_request: { status: 400, message: 'The request is not valid' },
  unauthenticated: { status: 401, message: 'Authentication is required' },
  forbidden: { status: 403, message: 'You are not allowed to do this' },
  not_found: { status: 404, message: 'Not found' },
  uri_too_long: { status: 414, message: 'A part of the URL is too long' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here' },
  conflict: { status: 409, message: 'The request conflicts with the current state' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json' },
  rate_limited: { status: 429, message: 'Too many requests; retry after the time in Retry-After' },
  internal: { status: 500, message: 'Something went wrong on our side; retry later or report the request id' },
  unavailable: { status: 503, message: 'A dependency is unavailable; retry after the time in Retry-After' },
});

// Connection-level failures of the database: the request may succeed later, so 503 not 500.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05', '22025']);

function isDependencyUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/.test(message)
  );
}

/** Maps anything thrown during a request to an AppError; unknown errors become a bare 500. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const details = fastifyError.validation.map((issue) => ({
      path: `${fastifyError.validationContext ?? 'body'}${issue.instancePath.replace(/\//g, '.')}`,
      message: issue.message ?? 'is invalid',
    }));
    return httpErrors.invalid_request('The request does not match the schema; see details', { details });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpErrors.payload_too_large();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return httpErrors.unsupported_media_type();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return httpErrors.invalid_request('The body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return httpErrors.invalid_request('The body is not valid JSON');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return httpErrors.uri_too_long();
    case 'FST_ERR_BAD_URL':
      return httpErrors.invalid_request('The URL is not valid');
  }
  if (isDependencyUnavailable(error)) return httpErrors.unavailable(undefined, { headers: { 'retry-after': '5' } });
  // Text PostgreSQL cannot store (a NUL byte, an invalid escape) is the client's input, not our bug.
  if (UNSTORABLE_TEXT_CODES.has(String(fastifyError.code))) return httpErrors.invalid_request('The request holds characters that cannot be stored (such as NUL)');
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (malformed JSON, prototype poisoning, bad URL encoding): their
    // messages describe the request, not our internals, but we still use our own words.
    if (status === 400) return httpErrors.invalid_request(error instanceof SyntaxError ? 'The body is not valid JSON' : undefined);
    if (status === 413) return httpErrors.payload_too_large();
    if (status === 415) return httpErrors.unsupported_media_type();
    return new AppError(status, 'invalid_request', 'The request could not be processed');
  }
  return httpErrors.internal();
}

/** Sends an AppError in the one error shape. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.options.headers ?? {})) reply.header(name, value);
  return reply.status(error.status).send({
    error: {
      code: error.code,
      message: error.message,
      request_id: request.id,
      ...(error.options.details ? { details: error.options.details } : {}),
    },
  });
}

/**
 * Errors the router raises before any route is found (a path parameter over the length limit, a
 * malformed percent-encoding). Fastify's own answer would echo the URL in its own shape; this
 * gives them the one error shape. Pass it as the `frameworkErrors` server option.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(request, reply, toAppError(error));
}

/** Installs the error and not-found handlers that give every failure the one error shape. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendError(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, httpErrors.not_found('No route matches this method and path')));
}
