import { defineErrors } from '../platform/http/index.js';

/** Tenancy's error catalogue. Anything outside the caller's orgs is `not_found`, never `forbidden`. */
export const tenancyErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  forbidden: { status: 403, message: 'Your role in this organization does not allow this' },
  mfa_required: { status: 403, message: 'This organization requires two-factor authentication for your role; set it up at /v1/me/mfa/totp' },
  last_owner: { status: 409, message: 'An organization needs at least one owner; make someone else owner first' },
});
