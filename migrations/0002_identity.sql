-- Identity: accounts, MFA, sessions with rotating refresh tokens, single-use email tokens,
-- external identities, security events, and the separate platform realm.
--
-- Accounts span organizations, so these tables are global (listed in GLOBAL_TABLES); the
-- application reaches them only through the identity repositories. Secrets are never stored in
-- clear: passwords as argon2id hashes, tokens and codes as keyed hashes, TOTP secrets sealed.

create table users (
  id uuid primary key,
  email text not null unique,                -- normalized: trimmed, NFKC, lower-cased
  name text,
  password_hash text,                        -- null for accounts that only sign in externally
  email_verified_at timestamptz,
  status text not null default 'active' check (status in ('active', 'deleted')),
  deleted_at timestamptz,
  purge_after timestamptz,
  -- Carried in access tokens; raising it refuses every token issued before (password change).
  token_version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Platform staff live apart from tenant users: own table, own sessions' audience, MFA mandatory.
create table platform_staff (
  id uuid primary key,
  email text not null unique,
  name text,
  password_hash text not null,
  token_version integer not null default 0,
  -- Offboarding: a disabled staff member can neither sign in nor use a token issued before.
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One TOTP factor per principal (user or staff). The secret is sealed under the secrets key,
-- bound to the principal. last_step stops a code from being accepted twice.
create table totp_factors (
  realm text not null check (realm in ('user', 'platform')),
  principal_id uuid not null,
  secret_sealed bytea not null,
  confirmed_at timestamptz,
  last_step bigint,
  created_at timestamptz not null default now(),
  primary key (realm, principal_id)
);

create table recovery_codes (
  realm text not null check (realm in ('user', 'platform')),
  principal_id uuid not null,
  code_hash bytea not null,
  used_at timestamptz,
  primary key (realm, principal_id, code_hash)
);

create table sessions (
  id uuid primary key,
  realm text not null check (realm in ('user', 'platform')),
  principal_id uuid not null,
  amr text[] not null,
  ip text,
  user_agent text,
  created_at timestamptz not null,
  last_used_at timestamptz not null,
  -- Last time the principal proved who they are (password or MFA): step-up checks use it.
  authenticated_at timestamptz not null,
  expires_at timestamptz not null,           -- absolute lifetime
  revoked_at timestamptz,
  revoked_reason text
);
create index sessions_principal on sessions (realm, principal_id) where revoked_at is null;

-- Every refresh token ever issued, so a spent one presented again is recognised as reuse.
create table refresh_tokens (
  token_hash bytea primary key,
  session_id uuid not null references sessions (id) on delete cascade,
  issued_at timestamptz not null,
  spent_at timestamptz
);
create index refresh_tokens_session on refresh_tokens (session_id);

-- Single-use tokens sent by mail, and the second step of an MFA sign-in.
create table one_time_tokens (
  token_hash bytea primary key,
  purpose text not null check (purpose in ('verify_email', 'reset_password', 'mfa_challenge', 'oidc_state')),
  realm text not null check (realm in ('user', 'platform')),
  principal_id uuid,
  data jsonb not null default '{}',
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index one_time_tokens_principal on one_time_tokens (realm, principal_id, purpose);

create table external_identities (
  provider text not null,
  subject text not null,
  user_id uuid not null references users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (provider, subject)
);
create index external_identities_user on external_identities (user_id);

-- The principal's own security history (sign-ins, MFA, sessions, passwords), shown at
-- /v1/me/security-events. The audit issue adds the tenant chains; this is the user's view.
create table security_events (
  id bigint generated always as identity primary key,
  realm text not null check (realm in ('user', 'platform')),
  principal_id uuid,
  action text not null,
  ip text,
  user_agent text,
  metadata jsonb not null default '{}',
  at timestamptz not null
);
create index security_events_principal on security_events (realm, principal_id, at desc);
