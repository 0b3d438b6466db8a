export { AppError, defineErrors, errorResponses, httpErrors, ErrorResponse, installErrorHandling, sendError, toAppError } from './errors.js';
export type { ErrorDefinition, ErrorDetail } from './errors.js';
export { createRateLimiter } from './rate-limit.js';
export type { RateLimiter, RateLimitBucket } from './rate-limit.js';
export { registerSecurityHeaders, CONTENT_SECURITY_POLICY } from './security-headers.js';
export { registerOpenApi } from './openapi.js';
export { validatorCompiler } from './validation.js';
export { healthRoutes } from './health.routes.js';
