import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withTenant } from '../../src/platform/db/index.js';
import { truncateIp, truncateUserAgent } from '../../src/privacy/consent/proof.js';
import { errorCode } from '../identity/support.js';
import { useVaultApp } from '../vault/support.js';
import { privacyClient } from './consent-support.js';

const choice = (subject: string, purposes: Record<string, boolean> = { necessary: true, analytics: true, marketing: false }) => ({ subject_id: subject, purposes, source: 'signup_form', policy_version: '2026-01' });

describe('consent through the org API', () => {
  const state = useVaultApp();

  it('records choices with truncated proof and answers the current state with the history, newest first', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const first = await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('cust-1'), { 'user-agent': `Mozilla/5.0 ${'x'.repeat(300)}` });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ subject_id: 'cust-1', purposes: { necessary: true, analytics: true, marketing: false }, source: 'signup_form', policy_version: '2026-01', signal: null });
    expect(first.json<{ proof: { ip: string; user_agent: string } }>().proof.ip).toMatch(/^10\.\d+\.\d+\.0\/24$/);
    expect(first.json<{ proof: { user_agent: string } }>().proof.user_agent).toHaveLength(120);
    const second = await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('cust-1', { necessary: true, analytics: false, marketing: true }));
    expect(second.statusCode).toBe(201);

    const read = await api.as(org.member.token, 'GET', `/v1/orgs/${org.id}/consents/cust-1`);
    expect(read.statusCode, read.body).toBe(200);
    const body = read.json<{ current: { id: string; purposes: Record<string, boolean> }; history: Array<{ id: string }> }>();
    expect(body.current.id).toBe(second.json<{ id: string }>().id);
    expect(body.current.purposes).toEqual({ necessary: true, analytics: false, marketing: true });
    expect(body.history.map((entry) => entry.id)).toEqual([second.json<{ id: string }>().id, first.json<{ id: string }>().id]);
  });

  it('accepts API keys with consent scopes and refuses those without', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const writer = await api.key(org, ['consent:write']);
    const reader = await api.key(org, ['consent:read']);
    const other = await api.key(org, ['records:read']);
    expect((await api.as(writer, 'POST', `/v1/orgs/${org.id}/consents`, choice('k-1'))).statusCode).toBe(201);
    expect((await api.as(reader, 'GET', `/v1/orgs/${org.id}/consents/k-1`)).statusCode).toBe(200);
    expect((await api.as(reader, 'POST', `/v1/orgs/${org.id}/consents`, choice('k-1'))).statusCode).toBe(403);
    expect((await api.as(other, 'GET', `/v1/orgs/${org.id}/consents/k-1`)).statusCode).toBe(403);
  });

  it('lets members read but not write, and answers 404 to another tenant and for an unknown subject', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const stranger = await api.org();
    expect((await api.as(org.member.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('m-1'))).statusCode).toBe(403);
    await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('m-1'));
    expect((await api.as(stranger.owner.token, 'GET', `/v1/orgs/${org.id}/consents/m-1`)).statusCode).toBe(404);
    expect((await api.as(stranger.owner.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('m-1'))).statusCode).toBe(404);
    // Same subject id in another org: nothing leaks across tenants.
    expect((await api.as(stranger.owner.token, 'GET', `/v1/orgs/${stranger.id}/consents/m-1`)).statusCode).toBe(404);
    expect((await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/nobody`)).statusCode).toBe(404);
  });

  it('refuses unknown purposes, a refused necessary purpose, malformed and oversized bodies, and changes nothing', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const url = `/v1/orgs/${org.id}/consents`;
    const unknown = await api.as(org.admin.token, 'POST', url, choice('v-1', { necessary: true, newsletter: true }));
    expect(unknown.statusCode).toBe(400);
    expect(errorCode(unknown)).toBe('unknown_purpose');
    expect(errorCode(await api.as(org.admin.token, 'POST', url, choice('v-1', { necessary: false, analytics: false })))).toBe('necessary_refused');
    expect((await api.as(org.admin.token, 'POST', url, { ...choice('v-1'), extra: 1 })).statusCode).toBe(400);
    expect((await api.as(org.admin.token, 'POST', url, { ...choice('v-1'), purposes: { analytics: 'yes' } })).statusCode).toBe(400);
    expect((await api.as(org.admin.token, 'POST', url, { ...choice('v-1'), subject_id: '' })).statusCode).toBe(400);
    expect((await api.as(org.admin.token, 'POST', url, { ...choice('v-1'), policy_version: 'x'.repeat(65) })).statusCode).toBe(400);
    const oversized = await api.as(org.admin.token, 'POST', url, { ...choice('v-1'), source: 'x'.repeat(20_000) });
    expect(oversized.statusCode).toBe(413);
    expect((await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/v-1`)).statusCode).toBe(404);
  });

  it("takes the org's own purposes once declared in the privacy settings", async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    expect((await api.settings(org.member.token, org.id, { consent_purposes: ['newsletter'] })).statusCode).toBe(403);
    expect(errorCode(await api.settings(org.admin.token, org.id, { consent_purposes: ['analytics'] }))).toBe('built_in_purpose');
    expect((await api.settings(org.admin.token, org.id, { consent_purposes: ['newsletter'] })).statusCode).toBe(200);
    const recorded = await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('p-1', { necessary: true, newsletter: true }));
    expect(recorded.statusCode, recorded.body).toBe(201);
    // Every purpose of the org is decided: those not sent are off.
    expect(recorded.json<{ purposes: unknown }>().purposes).toEqual({ necessary: true, analytics: false, marketing: false, newsletter: true });
    expect((await api.auditOf(org.id, 'privacy.settings_changed')).map((entry) => entry.metadata)).toEqual([{ fields: ['consent_purposes'] }]);
  });

  it('keeps records immutable: the application role can neither change nor delete them', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('i-1'));
    const db = state.t.db.database.db;
    await expect(withTenant(db, org.id, (trx) => sql`update consent_records set purposes = '{"necessary":true,"analytics":true,"marketing":true}'`.execute(trx))).rejects.toThrow(/permission denied/);
    await expect(withTenant(db, org.id, (trx) => sql`delete from consent_records`.execute(trx))).rejects.toThrow(/permission denied/);
    const read = await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/i-1`);
    expect(read.json<{ history: unknown[] }>().history).toHaveLength(1);
  });

  it('audits each record with the subject id kept apart as personal data, and logs no subject id', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, choice('audited-subject-5521'));
    const [entry] = await api.auditOf(org.id, 'consent.recorded');
    expect(entry).toBeDefined();
    expect(entry!.metadata).toMatchObject({ purposes: { necessary: true, analytics: true, marketing: false }, source: 'signup_form', signal: null });
    expect(JSON.stringify(entry!.metadata)).not.toContain('audited-subject-5521');
    expect(state.t.rawLogs()).not.toContain('audited-subject-5521');
    const stored = await withTenant(state.t.db.database.db, org.id, (trx) => trx.selectFrom('consent_records').selectAll().execute());
    expect(JSON.stringify(stored)).not.toContain('audited-subject-5521');
  });
});

describe('proof truncation', () => {
  it('keeps an IPv4 /24 and an IPv6 /48, and a bounded printable user agent', () => {
    expect(truncateIp('203.0.113.77')).toBe('203.0.113.0/24');
    expect(truncateIp('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(truncateIp('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(truncateIp('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(truncateIp('::1')).toBe('0:0:0::/48');
    expect(truncateIp('not an ip')).toBeNull();
    expect(truncateUserAgent('A\u0000B\u00e9C')).toBe('ABC');
    expect(truncateUserAgent(null)).toBeNull();
  });
});
