import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestApp, TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { S3_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';
import { RELAXED_LIMITS } from '../identity/support.js';
import { vaultClient } from './support.js';

const BUCKET = 'rampart-files';
const PREFIX = 'acme/';

/** Vault files in an S3-compatible bucket (a real s3rver started here), through the same routes. */
describe('vault files in S3-compatible storage', () => {
  let server: Awaited<ReturnType<typeof startS3Server>>;
  let t: TestApp;
  const env = (overrides: Record<string, string> = {}) => ({
    RAMPART_VAULT_S3_BUCKET: BUCKET,
    RAMPART_VAULT_S3_REGION: 'eu-west-3',
    RAMPART_VAULT_S3_ENDPOINT: server.endpoint,
    RAMPART_VAULT_S3_PREFIX: PREFIX,
    RAMPART_VAULT_S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
    RAMPART_VAULT_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    ...overrides,
  });
  const objects = async () => ((await server.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX }))).Contents ?? []).map((object) => object.Key!);
  const objectBytes = async (key: string) => Buffer.from(await (await server.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());

  beforeAll(async () => {
    server = await startS3Server(BUCKET);
    t = await createTestApp({ ...RELAXED_LIMITS, RAMPART_VAULT_MAX_FILE_BYTES: String(32 * 1024 * 1024), ...env() });
  });
  afterAll(async () => {
    await t?.close();
    await server?.close();
  });

  it('streams a file of several upload parts in and out, encrypted in the bucket, and deletes it', async () => {
    const api = vaultClient(t);
    const org = await api.org();
    // Larger than one 8 MiB upload part, and starting with text that must not reach the bucket.
    const content = Buffer.concat([Buffer.from('CONFIDENTIAL inspection report of Ada Lovelace\n'), randomBytes(9 * 1024 * 1024)]);
    expect((await api.putFile(org.admin.token, org.id, 'report.pdf', content, { 'x-rampart-subject-id': 'subject-s3' })).statusCode).toBe(201);

    const stored = await objects();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(new RegExp(`^${PREFIX}${org.id}/[0-9a-f-]{36}$`));
    const raw = await objectBytes(stored[0]!);
    expect(raw.length).toBeGreaterThan(content.length);
    expect(raw.includes(Buffer.from('Ada Lovelace'))).toBe(false);

    const downloaded = await api.getFile(org.admin.token, org.id, 'report.pdf');
    expect(downloaded.statusCode).toBe(200);
    expect(downloaded.rawPayload.equals(content)).toBe(true);

    expect((await api.removeFile(org.admin.token, org.id, 'report.pdf')).statusCode).toBe(204);
    expect(await objects()).toEqual([]);
    expect((await api.getFile(org.admin.token, org.id, 'report.pdf')).statusCode).toBe(404);
  });

  it('refuses a blob changed in the bucket', async () => {
    const api = vaultClient(t);
    const org = await api.org();
    expect((await api.putFile(org.admin.token, org.id, 'scan.pdf', Buffer.from('%PDF-1.7 a small scan'))).statusCode).toBe(201);
    const [key] = (await objects()).filter((name) => name.startsWith(`${PREFIX}${org.id}/`));
    const raw = await objectBytes(key!);
    raw[raw.length - 20]! ^= 0x01;
    await server.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key!, Body: raw }));
    const downloaded = await api.getFile(org.admin.token, org.id, 'scan.pdf');
    // The tag of the last chunk fails: the download breaks off instead of handing out altered bytes.
    expect(downloaded.rawPayload.includes(Buffer.from('small scan'))).toBe(false);
  });

  it('refuses at start a bucket outside the allowed data residency', () => {
    const base = { RAMPART_DATA_DIR: '/nonexistent-test-data-dir', RAMPART_ROOT_KEY: TEST_ROOT_KEY };
    expect(() => loadConfig({ ...base, ...env({ RAMPART_VAULT_S3_REGION: 'us-east-1' }) })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env({ RAMPART_VAULT_S3_REGION: 'us-east-1' }) })).toThrow(/RAMPART_VAULT_S3_REGION "us-east-1" is outside the allowed data residency/);
    expect(loadConfig({ ...base, ...env({ RAMPART_VAULT_S3_REGION: 'us-east-1', RAMPART_DATA_RESIDENCY: 'eu,us-east-1' }) }).vault.s3).toMatchObject({ region: 'us-east-1' });
  });
});
