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
  backup_drills: BackupDrillsTable;
  tenant_keys: TenantKeysTable;
  data_keys: DataKeysTable;
  erasure_ledger: ErasureLedgerTable;
  vault_records: VaultRecordsTable;
  vault_files: VaultFilesTable;
  audit_heads: AuditHeadsTable;
  audit_entries: AuditEntriesTable;
  audit_checkpoints: AuditCheckpointsTable;
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

export interface BackupDrillsTable {
  id: string;
  backup_id: string;
  started_at: Date;
  duration_ms: number;
  backup_age_seconds: number | null;
  outcome: 'passed' | 'failed';
  details: ColumnType<unknown, string | undefined, string>;
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

/** The head of one audit chain (migrations/0004_audit.sql); appends lock it FOR UPDATE. */
export interface AuditHeadsTable {
  tenant_id: string;
  /** The next seq: entries 0..size-1 exist (those below archived_size were archived). */
  size: Generated<number>;
  head_hash: Generated<Buffer>;
  frontier: Generated<Buffer[]>;
  archived_size: Generated<number>;
  archived_prev_hash: Generated<Buffer>;
  archived_frontier: Generated<Buffer[]>;
  updated_at: Generated<Date>;
}

export type AuditActorType = 'user' | 'api_key' | 'platform' | 'system';

export interface AuditEntriesTable {
  tenant_id: string;
  seq: number;
  id: string;
  at: Date;
  action: string;
  actor_type: AuditActorType;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  metadata: ColumnType<unknown, string, never>;
  /** Personal fields (ip, user agent, personal metadata) as stored bytes; see src/audit/canonical.ts. */
  personal: Buffer | null;
  subject_id: string | null;
  prev_hash: Buffer;
  hash: Buffer;
  /** tree_nodes[L-1] = the Merkle node of height L completed by this leaf. */
  tree_nodes: Buffer[];
}

export interface AuditCheckpointsTable {
  tenant_id: string;
  size: number;
  root: Buffer;
  at: Date;
  signature: Buffer;
  key_id: string;
}

/** A tenant key-encryption key, wrapped by the root key provider named in `provider`. */
export interface TenantKeysTable {
  tenant_id: string;
  version: number;
  provider: string;
  wrapped_key: Buffer;
  created_at: CreatedAt;
  retired_at: Date | null;
}

/** A data key wrapped by its tenant's KEK `kek_version`; `subject_index` null is the tenant's own. */
export interface DataKeysTable {
  tenant_id: string;
  key_id: string;
  subject_index: Buffer | null;
  kek_version: number;
  wrapped_key: Buffer;
  created_at: CreatedAt;
  destroyed_at: Date | null;
}

export interface ErasureLedgerTable {
  tenant_id: string;
  entry_id: string;
  subject_index: Buffer;
  request_id: string | null;
  at: Date;
}

export interface VaultRecordsTable {
  tenant_id: string;
  collection: string;
  record_key: string;
  data_key_id: string;
  data_sealed: Buffer;
  subject_index: Buffer | null;
  subject_sealed: Buffer | null;
  category: string;
  created_at: Date;
  updated_at: Date;
}

export interface VaultFilesTable {
  tenant_id: string;
  file_key: string;
  blob_id: string;
  data_key_id: string;
  size_bytes: number;
  content_type: string;
  subject_index: Buffer | null;
  created_at: Date;
  updated_at: Date;
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
  'backup_drills',
] as const;
