import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** Codes from one step before or after are accepted, for clock drift. */
const WINDOW = 1;

export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

function totpFor(secretBase32: string, label: string, issuer: string): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS, secret: Secret.fromBase32(secretBase32) });
}

/** A fresh 160-bit secret with its otpauth:// URI and a QR code of it as SVG. */
export async function createTotpEnrolment(label: string, issuer: string): Promise<TotpEnrolment> {
  const secret = new Secret({ size: 20 }).base32;
  const otpauthUri = totpFor(secret, label, issuer).toString();
  return { secret, otpauthUri, qrSvg: await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
}

/**
 * The time step a code belongs to, or null when it matches none in the window (RFC 6238, SHA-1,
 * 6 digits, 30 s, ±1 step). The caller refuses a step it has already accepted: replay protection.
 */
export function matchTotpStep(secretBase32: string, code: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpFor(secretBase32, 'x', 'x').validate({ token: code, timestamp: now.getTime(), window: WINDOW });
  if (delta === null) return null;
  return Math.floor(now.getTime() / 1000 / PERIOD_SECONDS) + delta;
}

/** Computes the code for `now` (tests and the enrolment check use it). */
export function generateTotpCode(secretBase32: string, now: Date): string {
  return totpFor(secretBase32, 'x', 'x').generate({ timestamp: now.getTime() });
}
