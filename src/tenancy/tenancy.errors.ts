import { defineErrors } from '../platform/http/index.js';

/** Tenancy's error catalogue. Anything outside the caller's orgs is `not_found`, never `forbidden`. */
export const tenancyErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  forbidden: { status: 403, message: 'Your role in this organization does not allow this' },
  mfa_required: { status: 403, message: 'This organization requires two-factor authentication for your role; set it up at /v1/me/mfa/totp' },
  last_owner: { status: 409, message: 'An organization needs at least one owner; make someone else owner first' },
  unauthenticated: { status: 401, message: 'The API key is not valid, was revoked or has expired' },
  already_member: { status: 409, message: 'This person is already a member of the organization' },
  invitation_pending: { status: 409, message: 'An invitation to this address is still pending; revoke it to send a new one' },
  invitation_accepted: { status: 409, message: 'This invitation was already accepted; remove the member instead' },
  invalid_token: { status: 400, message: 'This invitation link is not valid; ask the organization for a new invitation' },
  email_not_verified: { status: 403, message: 'Confirm your email address before accepting an invitation' },
});
