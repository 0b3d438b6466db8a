import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header with the delivery's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const SIGNATURE_HEADER = 'rampart-signature';
/** Header with the event id, the same on every attempt: receivers drop a delivery they already took. */
export const EVENT_ID_HEADER = 'rampart-event-id';
export const EVENT_TYPE_HEADER = 'rampart-event-type';

/** The signature header for `body` sent at `timestamp` (unix seconds), under the endpoint's secret. */
export function signPayload(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver does (also used by the tests as a receiver would): parses the header, recomputes
 * the HMAC over the raw body and compares in constant time; refuses a timestamp further than
 * `toleranceSeconds` from `now` (a replayed delivery).
 */
export function verifySignature(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isSafeInteger(timestamp) || !given || !/^[0-9a-f]{64}$/.test(given)) return false;
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = signPayload(secret, timestamp, body).split('v1=')[1]!;
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(expected, 'hex'));
}
