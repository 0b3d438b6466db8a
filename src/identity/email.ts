import { isPlainAddress } from '../platform/mail/index.js';

const MAX_EMAIL_LENGTH = 254;

/**
 * The form an email address is stored and compared in: trimmed, Unicode NFKC (so look-alike
 * compositions collapse), lower-cased. Returns null for something that is not an address.
 */
export function normalizeEmail(input: string): string | null {
  const email = input.trim().normalize('NFKC').toLowerCase();
  // Deliberately loose beyond the mailer's own rule: deliverability is proven by the verification
  // mail, not by a regular expression.
  if (email.length > MAX_EMAIL_LENGTH || !isPlainAddress(email)) return null;
  return email;
}
