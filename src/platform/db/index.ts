export { openPglite, openPostgres, fromPglite, PGLITE_PARSERS } from './database.js';
export type { Database, DatabaseKind } from './database.js';
export { migrate, migrationStatus, readMigrations } from './migrate.js';
export type { Migration, MigrationProgress, MigrationStatus } from './migrate.js';
export { withTenant, withUser } from './tenant.js';
export type { TenantTransaction, UserTransaction } from './tenant.js';
export { GLOBAL_TABLES } from './schema.js';
export type { DB, Realm, OneTimeTokenPurpose, DsrType, DsrStatus } from './schema.js';
