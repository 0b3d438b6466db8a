/**
 * Removes secrets and personal data from anything about to be logged. It is applied to every log
 * line (see logger.ts), so a careless `log.info({ body })` anywhere cannot leak a password.
 *
 * Two nets: values under a sensitive key are replaced whole, and every string is searched for
 * things that look sensitive wherever they appear (an email inside an error message, a token in a
 * query string, a bearer credential copied into a header dump).
 */

export const REDACTED = '[redacted]';

// Matched against each key, lower-cased, with separators removed ("X-Api-Key" -> "xapikey").
const SENSITIVE_KEY = /pass(word|phrase)?|secret|token|authorization|cookie|apikey|privatekey|rootkey|^key$|otp|^code$|recovery|email|credential|signature/;

// Unicode-aware: internationalized addresses (jürgen@bäcker.de) are personal data too.
const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.[\p{L}]{2,}/gu;

const STRING_PATTERNS: Array<[RegExp, string]> = [
  // Authorization header values.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]'],
  // Rampart API keys.
  [/\brk_[A-Za-z0-9_-]+/g, 'rk_[redacted]'],
  // JWTs (three base64url segments, the first a JSON header).
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[jwt]'],
  // Sensitive query-string or form parameters: ?token=...&password=..., and ?subject_id= (a data subject is personal data).
  [
    /([?&;](?:[a-z_]*(?:token|password|secret|key|code|email|state|nonce|subject)[a-z_]*)=)[^&#\s"]*/gi,
    '$1[redacted]',
  ],
  // Credentials in connection URLs (postgres://user:pass@host).
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s/]+@/gi, '$1[redacted]@'],
];

const MAX_DEPTH = 8;

/** Returns a copy of `value` that is safe to log. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[deep]';
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  if (value instanceof Error) return scrubError(value, depth);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSensitiveKey(key) ? REDACTED : scrub(item, depth + 1);
  }
  return out;
}

export function scrubString(text: string): string {
  // The email pattern is the costliest; most lines hold no '@' at all (measured, benchmarks.md).
  let out = text.includes('@') ? text.replace(EMAIL, '[email]') : text;
  for (const [pattern, replacement] of STRING_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.toLowerCase().replace(/[-_\s]/g, ''));
}

export function scrubError(error: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.name,
    message: scrubString(error.message),
    stack: error.stack ? scrubString(error.stack) : undefined,
  };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (error.cause !== undefined) out.cause = scrub(error.cause, depth + 1);
  return out;
}
