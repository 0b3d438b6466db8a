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
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
  mail_outbox: MailOutboxTable;
  signing_keys: SigningKeysTable;
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
  plan: Generated<string>;
  created_at: CreatedAt;
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

/** Tables that belong to the instance, not to a tenant. Every other table must be tenant-owned. */
export const GLOBAL_TABLES = ['schema_migrations', 'jobs', 'job_schedules', 'mail_outbox', 'signing_keys'] as const;
