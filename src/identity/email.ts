const MAX_EMAIL_LENGTH = 254;
// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is proven by the
// verification mail, not by a regular expression.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The form an email address is stored and compared in: trimmed, Unicode NFKC (so look-alike
 * compositions collapse), lower-cased. Returns null for something that is not an address.
 */
export function normalizeEmail(input: string): string | null {
  const email = input.trim().normalize('NFKC').toLowerCase();
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(email)) return null;
  return email;
}
