import type { ColumnType, Generated } from 'kysely';

/**
 * The database as Kysely sees it. Row types are not domain types: services map rows to domain
 * objects explicitly so a secret column never reaches a response by accident.
 *
 * Tenant-owned tables carry `tenant_id` first in their primary key and are only reachable through
 * a tenant-scoped transaction (see tenant.ts); the others are listed in GLOBAL_TABLES.
 */
export interface DB {
  schema_migrations: SchemaMigrationsTable;
  tenants: TenantsTable;
  memberships: MembershipsTable;
  invitations: InvitationsTable;
  api_keys: ApiKeysTable;
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
  mail_outbox: MailOutboxTable;
  signing_keys: SigningKeysTable;
  users: UsersTable;
  platform_staff: PlatformStaffTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  one_time_tokens: OneTimeTokensTable;
  external_identities: ExternalIdentitiesTable;
  security_events: SecurityEventsTable;
}

type CreatedAt = ColumnType<Date, Date | undefined, never>;

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: CreatedAt;
}

export interface TenantsTable {
  tenant_id: string;
  name: string;
  plan: Generated<'free' | 'growth' | 'enterprise'>;
  mfa_required_for: Generated<'none' | 'owners' | 'admins' | 'all'>;
  invite_only: Generated<boolean>;
  retention_days: Generated<number>;
  erasure_grace_days: Generated<number>;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

export interface MembershipsTable {
  tenant_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

export interface InvitationsTable {
  tenant_id: string;
  invitation_id: string;
  email: string;
  role: 'owner' | 'admin' | 'member';
  token_hash: Buffer;
  invited_by: string;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  tenant_id: string;
  key_id: string;
  name: string;
  scopes: string[];
  key_hash: Buffer;
  created_by: string;
  created_at: CreatedAt;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export type JobState = 'pending' | 'running' | 'done' | 'dead';

export interface JobsTable {
  id: Generated<number>;
  name: string;
  payload: ColumnType<unknown, string, string>;
  idempotency_key: string | null;
  state: Generated<JobState>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  run_at: Date;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  created_at: CreatedAt;
  finished_at: Date | null;
}

export interface JobSchedulesTable {
  name: string;
  cron: string;
  job_name: string;
  payload: ColumnType<unknown, string, string>;
  next_run_at: Date;
}

export interface MailOutboxTable {
  id: Generated<number>;
  job_id: number;
  to_address: string;
  subject: string;
  body_text: string;
  created_at: CreatedAt;
}

export interface SigningKeysTable {
  kid: string;
  purpose: string;
  public_jwk: ColumnType<unknown, string, string>;
  private_key_sealed: Buffer;
  created_at: CreatedAt;
  retired_at: Date | null;
}

/** Which population a principal belongs to: tenant users, or the vendor's platform staff. */
export type Realm = 'user' | 'platform';

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  email_verified_at: Date | null;
  status: Generated<'active' | 'deleted'>;
  deleted_at: Date | null;
  purge_after: Date | null;
  token_version: Generated<number>;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

export interface PlatformStaffTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  token_version: Generated<number>;
  disabled_at: Date | null;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

export interface TotpFactorsTable {
  realm: Realm;
  principal_id: string;
  secret_sealed: Buffer;
  confirmed_at: Date | null;
  last_step: number | null;
  created_at: CreatedAt;
}

export interface RecoveryCodesTable {
  realm: Realm;
  principal_id: string;
  code_hash: Buffer;
  used_at: Date | null;
}

export interface SessionsTable {
  id: string;
  realm: Realm;
  principal_id: string;
  amr: string[];
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  last_used_at: Date;
  authenticated_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  token_hash: Buffer;
  session_id: string;
  issued_at: Date;
  spent_at: Date | null;
}

export type OneTimeTokenPurpose = 'verify_email' | 'reset_password' | 'mfa_challenge' | 'oidc_state';

export interface OneTimeTokensTable {
  token_hash: Buffer;
  purpose: OneTimeTokenPurpose;
  realm: Realm;
  principal_id: string | null;
  data: ColumnType<unknown, string | undefined, string>;
  expires_at: Date;
  used_at: Date | null;
  created_at: CreatedAt;
}

export interface ExternalIdentitiesTable {
  provider: string;
  subject: string;
  user_id: string;
  created_at: CreatedAt;
}

export interface SecurityEventsTable {
  id: Generated<number>;
  realm: Realm;
  principal_id: string | null;
  action: string;
  ip: string | null;
  user_agent: string | null;
  metadata: ColumnType<unknown, string | undefined, string>;
  at: Date;
}

/** Tables that belong to the instance, not to a tenant. Every other table must be tenant-owned. */
export const GLOBAL_TABLES = [
  'schema_migrations',
  'jobs',
  'job_schedules',
  'mail_outbox',
  'signing_keys',
  'users',
  'platform_staff',
  'totp_factors',
  'recovery_codes',
  'sessions',
  'refresh_tokens',
  'one_time_tokens',
  'external_identities',
  'security_events',
] as const;
