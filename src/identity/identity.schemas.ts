import { Type } from 'typebox';
import { MAX_PASSWORD_LENGTH } from './password-policy.js';

const Email = Type.String({ minLength: 3, maxLength: 320, description: 'Normalized (trimmed, NFKC, lower-cased) before use' });
// Longer than the policy allows so the policy, not the schema, explains the limit.
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH * 4 });
const Secret = Type.String({ minLength: 16, maxLength: 512 });

export const SignupBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.Optional(Type.String({ maxLength: 200 })),
    invitation_token: Type.Optional(Type.String({ minLength: 16, maxLength: 512, description: 'From an invitation mailed to this email; required when sign-up is invite-only' })),
  },
  { additionalProperties: false },
);
export const LoginBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
export const LoginMfaBody = Type.Object(
  { mfa_token: Secret, code: Type.String({ minLength: 6, maxLength: 32, description: 'A TOTP code or a recovery code' }) },
  { additionalProperties: false },
);
export const RefreshBody = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 16, maxLength: 512, description: 'Required, unless the browser session cookie is used (header x-rampart-session: cookie)' })) },
  { additionalProperties: false },
);
export const ForgotBody = Type.Object({ email: Email }, { additionalProperties: false });
export const ResetBody = Type.Object({ token: Secret, password: Password }, { additionalProperties: false });
export const TokenBody = Type.Object({ token: Secret }, { additionalProperties: false });
export const PatchMeBody = Type.Object({ name: Type.String({ maxLength: 200 }) }, { additionalProperties: false });
export const ChangePasswordBody = Type.Object({ current_password: Password, new_password: Password }, { additionalProperties: false });
/** Step-up: the password, or nothing within 10 minutes of signing in (accounts without a password). */
export const StepUpBody = Type.Object({ password: Type.Optional(Password) }, { additionalProperties: false });
export const CodeBody = Type.Object({ code: Type.String({ minLength: 6, maxLength: 6, pattern: '^[0-9]{6}$' }) }, { additionalProperties: false });
export const SessionParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) });

export const User = Type.Object({ id: Type.String(), email: Type.String(), name: Type.Union([Type.String(), Type.Null()]), email_verified: Type.Boolean() });
export const Tokens = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.Optional(Type.String({ description: 'Always present, except for browsers that asked for the session cookie (x-rampart-session: cookie)' })),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
});
export const MfaChallenge = Type.Object({ mfa_required: Type.Literal(true), mfa_token: Type.String() });
export const Me = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  orgs: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: Type.String() })),
});
export const TotpEnrolment = Type.Object({ secret: Type.String(), otpauth_uri: Type.String(), qr_svg: Type.String() });
export const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10 }) });
export const SessionList = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String(),
      created_at: Type.String({ format: 'date-time' }),
      last_used_at: Type.String({ format: 'date-time' }),
      ip: Type.Union([Type.String(), Type.Null()]),
      user_agent: Type.Union([Type.String(), Type.Null()]),
      current: Type.Boolean(),
    }),
  ),
});
export const SecurityEvents = Type.Object({
  data: Type.Array(
    Type.Object({
      id: Type.String(),
      action: Type.String(),
      ip: Type.Union([Type.String(), Type.Null()]),
      user_agent: Type.Union([Type.String(), Type.Null()]),
      metadata: Type.Object({}, { additionalProperties: true }),
      at: Type.String({ format: 'date-time' }),
    }),
  ),
  next_cursor: Type.Null(),
});
export const Export = Type.Object({}, { additionalProperties: true, description: 'Every piece of personal data held about the caller' });
export const DeletionScheduled = Type.Object({ status: Type.Literal('deletion_scheduled'), purge_after: Type.String({ format: 'date-time' }) });
export const AuthOptions = Type.Object({
  signup: Type.Union([Type.Literal('open'), Type.Literal('invite_only')]),
  oidc_providers: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
});
