import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const KEY = Buffer.alloc(32, 1).toString('base64');

function expectConfigError(env: Record<string, string>, message: RegExp): void {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(message);
}

describe('configuration', () => {
  it('starts on embedded defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 4000,
      databaseUrl: null,
      redisUrl: null,
      tls: null,
      trustedProxies: [],
      corsOrigins: [],
      bodyLimitBytes: 1024 * 1024,
      rootKey: { source: 'file', explicit: false },
    });
    expect(config.dataDir).toMatch(/\.rampart$/);
    expect(config.publicUrl).toBe('http://127.0.0.1:4000');
  });

  it('names the variable that is wrong', () => {
    expectConfigError({ RAMPART_PORT: 'abc' }, /RAMPART_PORT/);
    expectConfigError({ RAMPART_PORT: '70000' }, /RAMPART_PORT/);
    expectConfigError({ RAMPART_ENV: 'prod' }, /RAMPART_ENV must be one of development, staging, production/);
    expectConfigError({ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must use postgres/);
    expectConfigError({ RAMPART_TLS_CERT: '/tmp/cert.pem' }, /RAMPART_TLS_CERT and RAMPART_TLS_KEY/);
    expectConfigError({ RAMPART_ROOT_KEY: 'c2hvcnQ=' }, /RAMPART_ROOT_KEY must be 32 bytes/);
    expectConfigError({ RAMPART_SECURITY_TXT_EXPIRES: 'soon' }, /RAMPART_SECURITY_TXT_EXPIRES/);
  });

  it('keeps audit entries a year by default, and at least a month', () => {
    const config = loadConfig({ RAMPART_DATA_DIR: '/srv/rampart' });
    expect(config.audit).toMatchObject({ retentionDays: 365, archiveDir: '/srv/rampart/audit-archive' });
    expect(loadConfig({ RAMPART_AUDIT_RETENTION_DAYS: '30' }).audit.retentionDays).toBe(30);
    expectConfigError({ RAMPART_AUDIT_RETENTION_DAYS: '29' }, /RAMPART_AUDIT_RETENTION_DAYS must be a whole number from 30/);
  });

  it('takes a backup schedule as a cron expression or off, and names a malformed one', () => {
    expect(loadConfig({}).backup).toMatchObject({ schedule: '23 2 * * *', drillSchedule: '41 4 * * 0' });
    expect(loadConfig({ RAMPART_BACKUP_SCHEDULE: 'off', RAMPART_BACKUP_DRILL_SCHEDULE: '0 5 * * 1' }).backup).toMatchObject({ schedule: null, drillSchedule: '0 5 * * 1' });
    expectConfigError({ RAMPART_BACKUP_DRILL_SCHEDULE: 'every sunday' }, /RAMPART_BACKUP_DRILL_SCHEDULE must be a cron expression/);
  });

  it('never echoes a database URL, which may hold a password', () => {
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('reads a JSON config file, with the environment taking precedence', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'rampart-config-')), 'rampart.json');
    await writeFile(path, JSON.stringify({ RAMPART_PORT: 4100, RAMPART_HOST: '0.0.0.0' }));
    const config = loadConfig({ RAMPART_CONFIG_FILE: path, RAMPART_PORT: '4200' });
    expect(config.port).toBe(4200);
    expect(config.host).toBe('0.0.0.0');
    await writeFile(path, '{not json');
    expectConfigError({ RAMPART_CONFIG_FILE: path }, /RAMPART_CONFIG_FILE/);
  });

  describe('production', () => {
    const safe = {
      RAMPART_ENV: 'production',
      RAMPART_TLS_CERT: '/etc/rampart/cert.pem',
      RAMPART_TLS_KEY: '/etc/rampart/key.pem',
      RAMPART_ROOT_KEY: KEY,
      RAMPART_SMTP_URL: 'smtp://mail.internal:587',
    };

    it('accepts an explicit, safe configuration', () => {
      expect(loadConfig(safe).tls).toMatchObject({ minVersion: 'TLSv1.3' });
    });

    it('accepts a trusted TLS-terminating proxy instead of TLS', () => {
      const { RAMPART_TLS_CERT: _c, RAMPART_TLS_KEY: _k, ...rest } = safe;
      const behindProxy = { ...rest, RAMPART_TRUSTED_PROXIES: '10.0.0.0/8', RAMPART_PUBLIC_URL: 'https://auth.vendor.example' };
      expect(loadConfig(behindProxy).trustedProxies).toEqual(['10.0.0.0/8']);
      expectConfigError({ ...behindProxy, RAMPART_PUBLIC_URL: 'http://auth.vendor.example' }, /RAMPART_PUBLIC_URL to be an https/);
    });

    it('refuses the unsafe defaults of development', () => {
      const { RAMPART_TLS_CERT: _c, RAMPART_TLS_KEY: _k, ...noTls } = safe;
      expectConfigError(noTls, /requires TLS/);
      const { RAMPART_ROOT_KEY: _r, ...noKey } = safe;
      expectConfigError(noKey, /requires an explicit root key/);
      const { RAMPART_SMTP_URL: _s, ...noSmtp } = safe;
      expectConfigError(noSmtp, /requires RAMPART_SMTP_URL/);
    });
  });
});
