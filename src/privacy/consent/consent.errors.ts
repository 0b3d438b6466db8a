import { defineErrors } from '../../platform/http/index.js';

/** Consent errors; messages never hold a subject id. */
export const consentErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  unknown_purpose: { status: 400, message: 'A purpose is neither built in nor one of the org\'s own (privacy settings)' },
  necessary_refused: { status: 400, message: 'Strictly necessary processing cannot be refused; send necessary: true' },
  origin_not_allowed: { status: 403, message: "This origin is not among the org's allowed origins for consent (privacy settings)" },
});
