import { isIPv4 } from 'node:net';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { scrub, scrubError, scrubString } from './scrub.js';

export type { Logger } from 'pino';

// Handled by their own serializers below, which run after `formatters.log`.
const SERIALIZED_KEYS = new Set(['req', 'res', 'err']);

/**
 * The one logger factory. Every line passes three nets: sensitive keys are redacted in the merged
 * object, request/response/error objects are reduced to safe summaries, and the final JSON line is
 * searched for emails, tokens and credentials whatever key they hide under.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) =>
          Object.fromEntries(Object.entries(object).map(([key, value]) => [key, SERIALIZED_KEYS.has(key) ? value : scrubEntry(key, value)])),
      },
      serializers: {
        req: (request: { method?: string; url?: string; ip?: string; id?: string }) => ({
          method: request.method,
          url: request.url === undefined ? undefined : scrubString(request.url),
          ip: request.ip === undefined ? undefined : truncateIp(request.ip),
        }),
        res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
        err: (error: Error) => scrubError(error),
      },
      hooks: { streamWrite: scrubString },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

function scrubEntry(key: string, value: unknown): unknown {
  return (scrub({ [key]: value }) as Record<string, unknown>)[key];
}

/**
 * Client IPs are personal data: logs keep the network (IPv4 /24, IPv6 /48), enough to spot an
 * abusive range, not enough to name a person.
 */
export function truncateIp(ip: string): string {
  if (isIPv4(ip)) return ip.replace(/\.\d+$/, '.0');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return truncateIp(mapped[1]!);
  return `${ip.split(':').slice(0, 3).join(':')}::`;
}
