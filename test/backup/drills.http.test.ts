import { createPublicKey, randomBytes, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_DRILL_JOB, DRILL_FORMAT } from '../../src/backup/index.js';
import { createPlatformStaff } from '../../src/identity/index.js';
import { generateTotpCode } from '../../src/identity/totp.js';
import { systemClock } from '../../src/platform/clock.js';
import { openPglite, openPostgres } from '../../src/platform/db/index.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { bearer, drainJobs, freshEmail, mailsTo, RELAXED_LIMITS } from '../identity/support.js';
import { vaultClient } from '../vault/support.js';
import { emptyPostgresDatabase, serviceFor } from './support.js';

interface DrillView {
  id: string;
  backup_id: string;
  outcome: 'passed' | 'failed';
  details: Record<string, unknown>;
  statement: string;
  signature: string;
  signing_kid: string;
}

/**
 * Restore drills as the platform sees them: the scheduled drill restores the latest backup, decrypts
 * a sample of its vault records, signs its result and records it; a failed one mails every active
 * staff member; `GET /v1/platform/backups/drills` shows staff the results with the keys that
 * verify them, and nobody else.
 */
describe('restore drills over HTTP', () => {
  let t: TestApp;
  let dataDir: string;
  let staffToken: string;
  let staffEmail: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rampart-drills-'));
    const db = await createTestDatabase();
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_DATA_DIR: dataDir, ...(db.url ? { DATABASE_URL: db.url } : {}) }, { db });
    const staff = await createPlatformStaff(t.db.database.db, t.config.identity.argon2, { email: freshEmail('ops'), name: 'Ops' });
    staffEmail = staff.email;
    const login = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/login', payload: { email: staff.email, password: staff.initialPassword } });
    const mfaToken = login.json<{ mfa_token: string }>().mfa_token;
    const enrol = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/enrol', payload: { mfa_token: mfaToken } });
    const confirm = await t.app.inject({ method: 'POST', url: '/v1/platform/auth/mfa/confirm', payload: { mfa_token: mfaToken, code: generateTotpCode(enrol.json<{ secret: string }>().secret, new Date()) } });
    expect(confirm.statusCode, confirm.body).toBe(200);
    staffToken = confirm.json<{ tokens: { access_token: string } }>().tokens.access_token;
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await t.db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function runScheduledDrill(): Promise<void> {
    await t.app.jobs.enqueue(t.db.database.db, BACKUP_DRILL_JOB, {});
    await drainJobs(t);
  }

  const drills = (token: string | null, query = '') =>
    t.app.inject({ method: 'GET', url: `/v1/platform/backups/drills${query}`, ...(token ? { headers: bearer(token) } : {}) });

  it('mails platform staff when a drill fails', async () => {
    await runScheduledDrill();
    const [mail] = await mailsTo(t, staffEmail);
    expect(mail).toMatchObject({ subject: 'Rampart: a restore drill FAILED', text: expect.stringContaining('there is no backup to restore') });
  });

  it('decrypts a sample of the restored vault records and signs every result; staff can verify them', async () => {
    const api = vaultClient(t);
    const org = await api.org();
    const token = await api.key(org, ['records:read', 'records:write']);
    const pdf = randomBytes(200_000);
    expect((await api.putFile(token, org.id, 'scan.pdf', pdf)).statusCode).toBe(201);
    for (const key of ['a', 'b', 'c']) expect((await api.put(token, org.id, 'patients', key, { data: { name: `Patient ${key}` }, subject_id: `subject-${key}` })).statusCode).toBe(201);
    const { id: backupId } = await serviceFor(t.db.database, t.config, { clock: systemClock }).create();
    await runScheduledDrill();

    const response = await drills(staffToken);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{ drills: DrillView[]; public_keys: JsonWebKey[] }>();
    expect(body.drills.map((drill) => [drill.backup_id, drill.outcome])).toEqual([
      [backupId, 'passed'],
      ['', 'failed'],
    ]);
    expect(body.drills[0]!.details).toMatchObject({ records_sampled: 3, records_decrypted: 3, vault_files: 1, files_sampled: 1, files_decrypted: 1, audit_heads_match: true });
    for (const drill of body.drills) {
      const key = body.public_keys.find((jwk) => jwk.kid === drill.signing_kid)!;
      const publicKey = createPublicKey({ key, format: 'jwk' });
      expect(verify(null, Buffer.from(drill.statement), publicKey, Buffer.from(drill.signature, 'base64'))).toBe(true);
      expect(JSON.parse(drill.statement)).toMatchObject({ format: DRILL_FORMAT, id: drill.id, backup_id: drill.backup_id, outcome: drill.outcome });
      // A result edited after signing no longer verifies.
      const edited = drill.statement.replace(`"outcome":"${drill.outcome}"`, '"outcome":"passed-ish"');
      expect(verify(null, Buffer.from(edited), publicKey, Buffer.from(drill.signature, 'base64'))).toBe(false);
    }
    // Only the failed drill mailed anyone.
    expect(await mailsTo(t, staffEmail)).toHaveLength(1);

    // A PostgreSQL target must say where the files go; refused before it is even connected to.
    await expect(serviceFor(t.db.database, t.config).restore(backupId, { kind: 'postgres', url: 'postgres://127.0.0.1:1/never' })).rejects.toThrow(/holds vault files \(1\): say where they go with --files-into/);

    // The vault file comes back with the database: an instance on the restored copy serves it.
    const restoredDir = await mkdtemp(join(tmpdir(), 'rampart-restored-'));
    const restoredPg = t.db.url ? await emptyPostgresDatabase() : null;
    const filesDir = join(restoredDir, 'files');
    await serviceFor(t.db.database, t.config).restore(backupId, restoredPg ? { kind: 'postgres', url: restoredPg.url, filesDir } : { kind: 'pglite', dataDir: restoredDir });
    const database = restoredPg ? openPostgres(restoredPg.url, 2) : await openPglite(restoredDir);
    const restored = await createTestApp({ ...RELAXED_LIMITS, RAMPART_DATA_DIR: restoredDir, RAMPART_VAULT_FILE_DIR: filesDir }, { db: { database, url: restoredPg?.url ?? null, drop: async () => undefined } });
    try {
      const file = await vaultClient(restored).getFile(token, org.id, 'scan.pdf');
      expect(file.statusCode, file.body).toBe(200);
      expect(file.rawPayload.equals(pdf)).toBe(true);
    } finally {
      await restored.close();
      await database.close();
      await restoredPg?.drop();
      await rm(restoredDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('answers only platform staff: a tenant user or no token gets 401, bad input 400', async () => {
    const api = vaultClient(t);
    const org = await api.org();
    expect((await drills(org.owner.token)).statusCode).toBe(401);
    expect((await drills(null)).statusCode).toBe(401);
    expect((await drills('not-a-token')).statusCode).toBe(401);
    for (const query of ['?limit=0', '?limit=101', '?limit=abc', '?other=1']) {
      const response = await drills(staffToken, query);
      expect(response.statusCode, query).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.any(String), request_id: expect.any(String) } });
    }
    expect((await drills(staffToken, '?limit=1')).json<{ drills: unknown[] }>().drills).toHaveLength(1);
  });
});
