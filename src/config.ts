import { CronExpressionParser } from 'cron-parser';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_RESIDENCY, regionAllowed, residencyEntryProblem } from './backup/residency.js';
import type { S3Location } from './platform/s3.js';

/** Deployment stage; production refuses the unsafe conveniences of development. */
export type RampartEnv = 'development' | 'staging' | 'production';

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface RateLimitConfig {
  /** Requests per minute from one client IP, on every route. */
  perIp: number;
  /** Requests per minute from one client IP on authentication routes. */
  authPerIp: number;
  /** Requests per minute for one authenticated account or API key. */
  perAccount: number;
}

export interface SecurityTxtConfig {
  contact: string[];
  policy: string | null;
  preferredLanguages: string;
  /** null: one year after start-up, so a running instance never serves an expired file. */
  expires: Date | null;
}

/** An external OpenID Connect provider users may sign in with (RAMPART_OIDC_PROVIDERS). */
export interface OidcProviderConfig {
  /** The path segment of /v1/auth/oidc/{id}/...; also the key of linked identities, so never rename it. */
  id: string;
  /** Issuer identifier; its discovery document is fetched on first use. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Shown to people choosing how to sign in. */
  name: string;
}

export interface IdentityConfig {
  /** `invite_only`: /v1/auth/signup answers 403 without an `invitation_token` and external sign-in creates no account; accounts come from invitations. */
  signup: 'open' | 'invite_only';
  oidcProviders: OidcProviderConfig[];
  accessTokenTtlSeconds: number;
  sessionIdleDays: number;
  sessionAbsoluteDays: number;
  accountDeletionGraceDays: number;
  argon2: { memoryKiB: number; timeCost: number; parallelism: number };
}

/** Where the root of the vault's key hierarchy is kept (docs/operations.md "Keys"). */
export type KmsConfig = { provider: 'local' } | { provider: 'aws'; keyId: string; region: string; endpoint: string | null };

export interface VaultConfig {
  kms: KmsConfig;
  /** Largest record `data`, as JSON bytes. */
  maxRecordBytes: number;
  maxFileBytes: number;
  /** The local folder encrypted files are kept in, unless `s3` is set. */
  fileDir: string;
  /** An S3-compatible bucket for encrypted files instead of the folder (RAMPART_VAULT_S3_*), or null. */
  s3: S3Location | null;
}

/** The audit log (docs/operations.md "Audit log"). */
export interface AuditConfig {
  /** A chain that grew by this many entries since its last signed checkpoint gets a new one. */
  checkpointEvery: number;
  /** And one that grew at all gets one after this many minutes. */
  checkpointMinutes: number;
  /** Entries older than this many days move to sealed archive files (src/audit/retention.ts). */
  retentionDays: number;
  /** The folder of those archive files. */
  archiveDir: string;
}

/** Backups (docs/operations.md "Backups"). */
export interface BackupConfig {
  /** The local backup folder. */
  dir: string;
  /** Off-site folders (mounted volumes); a backup counts only once every one holds it verified. */
  offsiteDirs: string[];
  /** Grandfather-father-son retention: one backup per day for `dailyDays`, one per ISO week for `weeklyDays`. */
  keepDailyDays: number;
  keepWeeklyDays: number;
  /** UTC cron slots of the backup (followed by pruning) and of the restore drill; null when off. */
  schedule: string | null;
  drillSchedule: string | null;
  /** An off-site S3-compatible bucket (RAMPART_BACKUP_S3_*), or null. */
  s3: S3Location | null;
  /** RAMPART_DATA_RESIDENCY: zones (`eu`) or region names an off-site copy may be kept in. */
  residency: string[];
}

export interface Config {
  env: RampartEnv;
  dataDir: string;
  host: string;
  port: number;
  publicUrl: string;
  databaseUrl: string | null;
  databasePoolSize: number;
  redisUrl: string | null;
  tls: TlsConfig | null;
  /** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  rootKey: { source: 'env'; base64: string } | { source: 'file'; path: string; explicit: boolean };
  smtpUrl: string | null;
  mailFrom: string;
  corsOrigins: string[];
  bodyLimitBytes: number;
  rateLimit: RateLimitConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  securityTxt: SecurityTxtConfig;
  jobs: { pollIntervalMs: number; concurrency: number; leaseSeconds: number };
  identity: IdentityConfig;
  /** RAMPART_PLANS as given: the tenancy module validates it against its permissions at start. */
  plansJson: string | null;
  audit: AuditConfig;
  backup: BackupConfig;
  vault: VaultConfig;
}

/** Thrown when configuration is invalid; the message names the variable and what to do. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Source = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Reads configuration from environment variables, and from the JSON file named by
 * RAMPART_CONFIG_FILE (same variable names as keys; the environment wins).
 */
export function loadConfig(env: Source = process.env): Config {
  const source = { ...readConfigFile(env.RAMPART_CONFIG_FILE), ...definedOnly(env) };
  const read = new Reader(source);

  const envName = read.oneOf('RAMPART_ENV', ['development', 'staging', 'production'] as const, 'development');
  const dataDir = resolve(read.string('RAMPART_DATA_DIR', './.rampart'));
  const residency = readResidency(read);
  const host = read.string('RAMPART_HOST', '127.0.0.1');
  const port = read.integer('RAMPART_PORT', 4000, 0, 65535);
  const tls = readTls(read);
  const trustedProxies = read.list('RAMPART_TRUSTED_PROXIES');
  const rootKey = readRootKey(read, dataDir);
  const smtpUrl = read.url('RAMPART_SMTP_URL', ['smtp:', 'smtps:']);
  const scheme = tls ? 'https' : 'http';
  const publicUrl = (read.url('RAMPART_PUBLIC_URL', ['http:', 'https:']) ?? `${scheme}://${host}:${port}`).replace(/\/$/, '');

  const config: Config = {
    env: envName,
    dataDir,
    host,
    port,
    publicUrl,
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolSize: read.integer('RAMPART_DATABASE_POOL_SIZE', 10, 1, 500),
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    tls,
    trustedProxies,
    rootKey,
    smtpUrl,
    mailFrom: read.string('RAMPART_MAIL_FROM', 'Rampart <no-reply@localhost>'),
    corsOrigins: read.list('RAMPART_CORS_ORIGINS'),
    bodyLimitBytes: read.integer('RAMPART_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 512 * 1024 * 1024),
    rateLimit: {
      perIp: read.integer('RAMPART_RATE_LIMIT_PER_IP', 600, 1, 1_000_000),
      authPerIp: read.integer('RAMPART_RATE_LIMIT_AUTH_PER_IP', 30, 1, 1_000_000),
      perAccount: read.integer('RAMPART_RATE_LIMIT_PER_ACCOUNT', 1200, 1, 1_000_000),
    },
    logLevel: read.oneOf('RAMPART_LOG_LEVEL', LOG_LEVELS, 'info'),
    securityTxt: {
      contact: read.list('RAMPART_SECURITY_CONTACT', [`mailto:security@${new URL(publicUrl).hostname}`]),
      policy: read.url('RAMPART_SECURITY_POLICY', ['https:', 'http:']),
      preferredLanguages: read.string('RAMPART_SECURITY_LANGUAGES', 'en'),
      expires: read.date('RAMPART_SECURITY_TXT_EXPIRES'),
    },
    jobs: {
      pollIntervalMs: read.integer('RAMPART_JOBS_POLL_MS', 1000, 10, 60_000),
      concurrency: read.integer('RAMPART_JOBS_CONCURRENCY', 4, 1, 64),
      leaseSeconds: read.integer('RAMPART_JOBS_LEASE_SECONDS', 300, 5, 86_400),
    },
    plansJson: read.optionalString('RAMPART_PLANS'),
    audit: {
      checkpointEvery: read.integer('RAMPART_AUDIT_CHECKPOINT_EVERY', 1000, 1, 10_000_000),
      checkpointMinutes: read.integer('RAMPART_AUDIT_CHECKPOINT_MINUTES', 10, 1, 1440),
      // At least a month: an auditor's questions about last month must find the entries live.
      retentionDays: read.integer('RAMPART_AUDIT_RETENTION_DAYS', 365, 30, 36500),
      archiveDir: resolve(dataDir, read.string('RAMPART_AUDIT_ARCHIVE_DIR', 'audit-archive')),
    },
    backup: {
      dir: resolve(dataDir, read.string('RAMPART_BACKUP_DIR', 'backups')),
      offsiteDirs: read.list('RAMPART_BACKUP_TARGETS').map((dir) => resolve(dir)),
      keepDailyDays: read.integer('RAMPART_BACKUP_KEEP_DAILY_DAYS', 30, 1, 3650),
      keepWeeklyDays: read.integer('RAMPART_BACKUP_KEEP_WEEKLY_DAYS', 365, 0, 36500),
      schedule: read.schedule('RAMPART_BACKUP_SCHEDULE', '23 2 * * *'),
      drillSchedule: read.schedule('RAMPART_BACKUP_DRILL_SCHEDULE', '41 4 * * 0'),
      residency,
      s3: readS3Location(read, 'BACKUP', 'rampart-backups/', residency, 'backups are not sent there'),
    },
    vault: {
      kms: readKms(read),
      maxRecordBytes: read.integer('RAMPART_VAULT_MAX_RECORD_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
      maxFileBytes: read.integer('RAMPART_VAULT_MAX_FILE_BYTES', 100 * 1024 * 1024, 1024, 1024 * 1024 * 1024 * 1024),
      fileDir: resolve(dataDir, read.string('RAMPART_VAULT_FILE_DIR', 'files')),
      s3: readS3Location(read, 'VAULT', 'rampart-files/', residency, 'vault files are not stored there'),
    },
    identity: {
      signup: read.oneOf('RAMPART_SIGNUP', ['open', 'invite_only'] as const, 'open'),
      oidcProviders: readOidcProviders(read, envName),
      accessTokenTtlSeconds: read.integer('RAMPART_ACCESS_TOKEN_TTL_SECONDS', 900, 60, 3600),
      sessionIdleDays: read.integer('RAMPART_SESSION_IDLE_DAYS', 7, 1, 90),
      sessionAbsoluteDays: read.integer('RAMPART_SESSION_ABSOLUTE_DAYS', 30, 1, 365),
      accountDeletionGraceDays: read.integer('RAMPART_ACCOUNT_DELETION_GRACE_DAYS', 30, 0, 90),
      argon2: {
        // OWASP's minimum for argon2id is 19 MiB, t=2, p=1; lower values are refused.
        memoryKiB: read.integer('RAMPART_ARGON2_MEMORY_KIB', 19_456, 19_456, 4_194_304),
        timeCost: read.integer('RAMPART_ARGON2_TIME_COST', 2, 2, 100),
        parallelism: read.integer('RAMPART_ARGON2_PARALLELISM', 1, 1, 16),
      },
    },
  };
  if (envName === 'production') refuseUnsafeProductionDefaults(config);
  return config;
}

function refuseUnsafeProductionDefaults(config: Config): void {
  if (!config.tls && config.trustedProxies.length === 0) {
    throw new ConfigError(
      'RAMPART_ENV=production requires TLS: set RAMPART_TLS_CERT and RAMPART_TLS_KEY, or RAMPART_TRUSTED_PROXIES to the reverse proxy that terminates TLS',
    );
  }
  if (config.rootKey.source === 'file' && !config.rootKey.explicit) {
    throw new ConfigError(
      'RAMPART_ENV=production requires an explicit root key: set RAMPART_ROOT_KEY_FILE (a 0600 file) or RAMPART_ROOT_KEY (base64, 32 bytes)',
    );
  }
  if (!config.publicUrl.startsWith('https://')) {
    throw new ConfigError('RAMPART_ENV=production requires RAMPART_PUBLIC_URL to be an https:// URL: it is the token issuer and the base of every mailed link');
  }
  if (!config.smtpUrl) {
    throw new ConfigError('RAMPART_ENV=production requires RAMPART_SMTP_URL: without it no mail (resets, invitations) is delivered');
  }
}

function readKms(read: Reader): KmsConfig {
  const provider = read.oneOf('RAMPART_KMS', ['local', 'aws'] as const, 'local');
  if (provider === 'local') return { provider };
  const keyId = read.optionalString('RAMPART_KMS_KEY_ID');
  const region = read.optionalString('RAMPART_KMS_REGION') ?? read.optionalString('AWS_REGION');
  if (!keyId || !region) throw new ConfigError('RAMPART_KMS=aws requires RAMPART_KMS_KEY_ID (key id, ARN or alias) and RAMPART_KMS_REGION (e.g. eu-central-1)');
  return { provider, keyId, region, endpoint: read.url('RAMPART_KMS_ENDPOINT', ['https:', 'http:']) };
}

/** RAMPART_DATA_RESIDENCY: where data may be kept off this machine (zones or region names). */
function readResidency(read: Reader): string[] {
  const residency = read.list('RAMPART_DATA_RESIDENCY', DEFAULT_RESIDENCY);
  for (const entry of residency) {
    const problem = residencyEntryProblem(entry);
    if (problem) throw new ConfigError(`RAMPART_DATA_RESIDENCY: ${problem}`);
  }
  return residency;
}

/** RAMPART_<name>_S3_*: a bucket, its region (inside the residency, or the start is refused), endpoint, prefix, credentials. */
function readS3Location(read: Reader, name: 'BACKUP' | 'VAULT', defaultPrefix: string, residency: readonly string[], refusal: string): S3Location | null {
  const variable = (suffix: string) => `RAMPART_${name}_S3_${suffix}`;
  const bucket = read.optionalString(variable('BUCKET'));
  if (!bucket) return null;
  const region = read.optionalString(variable('REGION'));
  if (!region) throw new ConfigError(`${variable('BUCKET')} requires ${variable('REGION')} (the bucket's region, e.g. eu-central-1)`);
  if (!regionAllowed(region, residency)) {
    throw new ConfigError(`${variable('REGION')} "${region.slice(0, 40)}" is outside the allowed data residency (RAMPART_DATA_RESIDENCY=${residency.join(',')}): ${refusal}`);
  }
  const accessKeyId = read.optionalString(variable('ACCESS_KEY_ID'));
  const secretAccessKey = read.optionalString(variable('SECRET_ACCESS_KEY'));
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) throw new ConfigError(`${variable('ACCESS_KEY_ID')} and ${variable('SECRET_ACCESS_KEY')} must be set together`);
  const prefix = read.string(variable('PREFIX'), defaultPrefix);
  return {
    bucket,
    region,
    endpoint: read.url(variable('ENDPOINT'), ['https:', 'http:']),
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : null,
  };
}

function readTls(read: Reader): TlsConfig | null {
  const certFile = read.optionalString('RAMPART_TLS_CERT');
  const keyFile = read.optionalString('RAMPART_TLS_KEY');
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) throw new ConfigError('RAMPART_TLS_CERT and RAMPART_TLS_KEY must be set together');
  return {
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    minVersion: read.oneOf('RAMPART_TLS_MIN_VERSION', ['TLSv1.2', 'TLSv1.3'] as const, 'TLSv1.3'),
  };
}

function readRootKey(read: Reader, dataDir: string): Config['rootKey'] {
  const base64 = read.optionalString('RAMPART_ROOT_KEY');
  const file = read.optionalString('RAMPART_ROOT_KEY_FILE');
  if (base64 && file) throw new ConfigError('Set only one of RAMPART_ROOT_KEY and RAMPART_ROOT_KEY_FILE');
  if (base64) {
    if (Buffer.from(base64, 'base64').length !== 32) {
      throw new ConfigError('RAMPART_ROOT_KEY must be 32 bytes encoded in base64 (generate one with: openssl rand -base64 32)');
    }
    return { source: 'env', base64 };
  }
  if (file) return { source: 'file', path: resolve(file), explicit: true };
  return { source: 'file', path: resolve(dataDir, 'root.key'), explicit: false };
}

const OIDC_VARIABLE = 'RAMPART_OIDC_PROVIDERS';
const OIDC_PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * RAMPART_OIDC_PROVIDERS: a JSON array of `{id, issuer, client_id, client_secret, name?}`. Messages
 * never quote the value, which holds client secrets.
 */
function readOidcProviders(read: Reader, envName: RampartEnv): OidcProviderConfig[] {
  const raw = read.optionalString(OIDC_VARIABLE);
  if (raw === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${OIDC_VARIABLE} must be a JSON array of {"id", "issuer", "client_id", "client_secret", "name"} objects`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(`${OIDC_VARIABLE} must be a JSON array of provider objects`);
  const providers = parsed.map((entry: unknown, index) => readOidcProvider(entry, `${OIDC_VARIABLE}[${index}]`, envName));
  const ids = new Set<string>();
  for (const provider of providers) {
    if (ids.has(provider.id)) throw new ConfigError(`${OIDC_VARIABLE} lists the provider id "${provider.id}" twice`);
    ids.add(provider.id);
  }
  return providers;
}

function readOidcProvider(entry: unknown, where: string, envName: RampartEnv): OidcProviderConfig {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`${where} must be an object`);
  const fields = entry as Record<string, unknown>;
  const text = (key: string): string | null => {
    const value = fields[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw new ConfigError(`${where}.${key} must be a string`);
    return value.trim() || null;
  };
  const required = (key: string): string => {
    const value = text(key);
    if (value === null) throw new ConfigError(`${where}.${key} is required`);
    return value;
  };
  const id = required('id');
  if (!OIDC_PROVIDER_ID.test(id)) {
    throw new ConfigError(`${where}.id must be 1 to 32 lower-case letters, digits, "-" or "_", starting with a letter or digit, got "${id.slice(0, 40)}"`);
  }
  const issuer = required('issuer');
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`${where}.issuer must be a URL`);
  }
  // Over plain http the ID token's keys and the code exchange could be tampered with on the way.
  const allowed = envName === 'production' ? ['https:'] : ['https:', 'http:'];
  if (!allowed.includes(url.protocol)) throw new ConfigError(`${where}.issuer must use ${allowed.join(' or ')}${envName === 'production' ? ' in production' : ''}`);
  if (url.search || url.hash) throw new ConfigError(`${where}.issuer must not have a query or fragment`);
  return { id, issuer, clientId: required('client_id'), clientSecret: required('client_secret'), name: text('name') ?? id };
}

function readConfigFile(path: string | undefined): Source {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    // Not the parser's message: it quotes the file around the error, and the file may hold the root key.
    const reason = (error as NodeJS.ErrnoException).code ?? 'not valid JSON';
    throw new ConfigError(`RAMPART_CONFIG_FILE ${path} could not be read as JSON (${reason})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`RAMPART_CONFIG_FILE ${path} must hold a JSON object of variable names to values`);
  }
  // Structured values (RAMPART_OIDC_PROVIDERS as an array) go back to the JSON text the variable holds.
  return Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => [key, value === null ? undefined : typeof value === 'object' ? JSON.stringify(value) : String(value)]),
  );
}

function definedOnly(env: Source): Source {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

/** Typed accessors that fail with a message naming the variable. */
class Reader {
  constructor(private readonly source: Source) {}

  optionalString(name: string): string | null {
    const value = this.source[name]?.trim();
    return value ? value : null;
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optionalString(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optionalString(name);
    if (raw === null) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  }

  list(name: string, fallback: string[] = []): string[] {
    const raw = this.optionalString(name);
    if (raw === null) return fallback;
    return raw.split(',').map((item) => item.trim()).filter(Boolean);
  }

  url(name: string, protocols: string[]): string | null {
    const raw = this.optionalString(name);
    if (raw === null) return null;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')})`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got ${url.protocol}`);
    }
    return raw;
  }

  /** A UTC cron expression, or `off` (null): scheduled work an operator runs some other way. */
  schedule(name: string, fallback: string): string | null {
    const raw = this.string(name, fallback);
    if (raw === 'off') return null;
    try {
      CronExpressionParser.parse(raw, { tz: 'UTC' });
    } catch {
      throw new ConfigError(`${name} must be a cron expression (5 fields, UTC) or "off", got "${raw}"`);
    }
    return raw;
  }

  date(name: string): Date | null {
    const raw = this.optionalString(name);
    if (raw === null) return null;
    const value = new Date(raw);
    if (Number.isNaN(value.getTime())) throw new ConfigError(`${name} must be an RFC 3339 date, got "${raw}"`);
    return value;
  }
}
