import type { FastifyRequest } from 'fastify';

/** Who made the request, as far as the network tells: recorded with sessions and security events. */
export interface RequestMeta {
  ip: string;
  userAgent: string | null;
  /** The request's id, recorded with audit entries so an entry leads to its log lines. */
  requestId?: string;
}

export function requestMeta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null, requestId: request.id };
}
