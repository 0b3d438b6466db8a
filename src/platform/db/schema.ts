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
  subject_flags: SubjectFlagsTable;
  dsr_requests: DsrRequestsTable;
  dsr_history: DsrHistoryTable;
  suppressions: SuppressionsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  privacy_settings: PrivacySettingsTable;
  consent_records: ConsentRecordsTable;
  legal_holds: LegalHoldsTable;
  retention_runs: RetentionRunsTable;
  org_exports: OrgExportsTable;
  vault_collection_settings: VaultCollectionSettingsTable;
  vault_read_counts: VaultReadCountsTable;
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
  /** Non-secret: what the org's website embeds in the consent banner (migrations/0008). */
  public_id: Generated<string>;
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
  /** The exact signed JSON text, its Ed25519 signature (base64) and key id; null on drills from before signing (0009). */
  statement: string | null;
  signature: string | null;
  signing_kid: string | null;
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

export interface VaultCollectionSettingsTable {
  tenant_id: string;
  collection: string;
  read_audit: 'every' | 'sampled' | 'aggregated';
  sample_percent: number | null;
  updated_at: Date;
}

export interface VaultReadCountsTable {
  tenant_id: string;
  collection: string;
  actor_type: string;
  actor_id: string;
  hour: Date;
  reads: number;
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

// Data-subject requests, subject flags, suppressions, webhooks (migrations/0007_dsr.sql).
export interface SubjectFlagsTable {
  tenant_id: string;
  subject_index: Buffer;
  erased_at: Date | null;
  restricted_at: Date | null;
  objected_at: Date | null;
  updated_at: Date;
}

export type DsrType = 'access' | 'portability' | 'rectification' | 'erasure' | 'restriction' | 'objection';
export type DsrStatus = 'received' | 'in_progress' | 'completed' | 'rejected';

export interface DsrRequestsTable {
  tenant_id: string;
  request_id: string;
  type: DsrType;
  subject_index: Buffer;
  subject_sealed: Buffer;
  status: DsrStatus;
  details_sealed: Buffer | null;
  email_hash: Buffer | null;
  rejection_reason: string | null;
  received_at: Date;
  due_at: Date;
  extension_reason: string | null;
  closed_at: Date | null;
  erase_after: Date | null;
  receipt: ColumnType<unknown, string | null, string | null>;
  created_by_type: string;
  created_by_id: string;
}

export interface DsrHistoryTable {
  tenant_id: string;
  request_id: string;
  seq: number;
  at: Date;
  event: string;
  actor_type: string;
  actor_id: string | null;
  detail: ColumnType<unknown, string, string>;
  previous_sealed: Buffer | null;
}

export interface SuppressionsTable {
  tenant_id: string;
  email_hash: Buffer;
  source: 'api' | 'objection';
  request_id: string | null;
  created_at: Date;
}

export interface WebhookEndpointsTable {
  tenant_id: string;
  endpoint_id: string;
  url: string;
  events: string[];
  secret_sealed: Buffer;
  created_by: string;
  created_at: Date;
  deleted_at: Date | null;
}

export interface WebhookEventsTable {
  tenant_id: string;
  event_id: string;
  type: string;
  body_sealed: Buffer | null;
  pending_deliveries: number;
  request_id: string | null;
  created_at: Date;
}

export interface WebhookDeliveriesTable {
  tenant_id: string;
  endpoint_id: string;
  event_id: string;
  attempt: number;
  at: Date;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  delivered: boolean;
}

// Consent, retention, records of processing, whole-org exports (migrations/0008, src/privacy).
export interface PrivacySettingsTable {
  tenant_id: string;
  consent_purposes: Generated<string[]>;
  allowed_origins: Generated<string[]>;
  retention_overrides: ColumnType<unknown, string | undefined, string>;
  processing: ColumnType<unknown, string | undefined, string>;
  recipients: ColumnType<unknown, string | undefined, string>;
  transfers: ColumnType<unknown, string | undefined, string>;
  controller: ColumnType<unknown, string | undefined, string>;
  updated_at: Generated<Date>;
}

export interface ConsentRecordsTable {
  tenant_id: string;
  consent_id: string;
  subject_index: Buffer;
  proof_sealed: Buffer;
  purposes: ColumnType<Record<string, boolean>, string, never>;
  source: string;
  policy_version: string;
  signal: 'gpc' | 'dnt' | null;
  recorded_at: Date;
}

export interface LegalHoldsTable {
  tenant_id: string;
  collection: string;
  record_key: string;
  reason: string;
  held_by: string;
  held_at: Date;
}

export interface RetentionRunsTable {
  tenant_id: string;
  run_on: string;
  started_at: Date;
  records_deleted: ColumnType<string | number, number | undefined, number>;
  files_deleted: ColumnType<string | number, number | undefined, number>;
  finished_at: Date | null;
}

export interface OrgExportsTable {
  tenant_id: string;
  export_id: string;
  requested_by: string;
  status: 'pending' | 'running' | 'ready' | 'failed' | 'expired';
  blob_id: string | null;
  size_bytes: ColumnType<string | number | null, number | null | undefined, number | null>;
  items_done: ColumnType<string | number, number | undefined, number>;
  items_total: ColumnType<string | number | null, number | null | undefined, number | null>;
  failure: string | null;
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date | null;
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
