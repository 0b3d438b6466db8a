import { defineErrors } from '../platform/http/index.js';

/** Identity's error catalogue. Messages never say whether an account exists. */
export const identityErrors = defineErrors({
  unauthenticated: { status: 401, message: 'Sign in to continue' },
  invalid_credentials: { status: 401, message: 'The email or password is not correct' },
  token_expired: { status: 401, message: 'The access token has expired; refresh it' },
  refresh_token_reused: { status: 401, message: 'This refresh token was already used; the session has been revoked, sign in again' },
  invalid_token: { status: 400, message: 'The link or code is not valid or has expired; request a new one' },
  invalid_code: { status: 401, message: 'The code is not correct or was already used' },
  weak_password: { status: 400, message: 'The password is too weak' },
  invalid_email: { status: 400, message: 'Enter a valid email address' },
  email_taken: { status: 409, message: 'An account with this email already exists; sign in or reset the password' },
  signup_disabled: { status: 403, message: 'Sign-up is by invitation only' },
  step_up_required: { status: 403, message: 'Confirm your password to continue' },
  mfa_not_enrolled: { status: 409, message: 'Two-factor authentication is not set up' },
  mfa_already_enabled: { status: 409, message: 'Two-factor authentication is already on; disable it first' },
  not_found: { status: 404, message: 'Not found' },
  last_owner: { status: 409, message: 'You are the only owner of an organization; make someone else owner first' },
});
