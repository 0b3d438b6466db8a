import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/platform/http/index.js';
import { escapeHtml } from '../../src/privacy/ropa/ropa.html.js';
import { useVaultApp } from '../vault/support.js';
import { privacyClient } from './consent-support.js';

describe('records of processing (Art. 30)', () => {
  const state = useVaultApp();

  it('is generated from the vault and the declarations, and says what is not declared', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const owner = org.owner.token;
    await api.put(owner, org.id, 'guests', 'g-1', { data: { a: 1 }, subject_id: 's-1', category: 'contact' });
    await api.put(owner, org.id, 'guests', 'g-2', { data: { a: 2 }, subject_id: 's-2', category: 'health' });
    await api.put(owner, org.id, 'inspections', 'i-1', { data: { b: 1 }, category: 'other' });
    const bare = await api.as(owner, 'GET', `/v1/orgs/${org.id}/ropa`);
    expect(bare.statusCode, bare.body).toBe(200);
    expect(bare.json()).toMatchObject({
      recipients: { configured: false, list: [], note: expect.stringMatching(/^None configured/) },
      transfers_outside_eu: { configured: false, list: [], note: expect.stringMatching(/^None/) },
      processing_activities: [
        { collection: 'guests', declared: false, legal_basis: null, purposes: [], records: 2, records_with_subject: 2 },
        { collection: 'inspections', declared: false, records: 1, records_with_subject: 0 },
      ],
    });

    const declared = await api.settings(org.admin.token, org.id, {
      processing: { guests: { purposes: ['Event check-in'], legal_basis: 'contract', data_subjects: ['event guests'] }, visitors: { purposes: ['Site safety'], legal_basis: 'legal_obligation' } },
      retention: { categories: { health: 30 }, collections: { inspections: 3650 } },
      recipients: [{ name: 'Mailer GmbH', purpose: 'Transactional mail', country: 'DE' }],
      transfers: [{ country: 'US', safeguard: 'Standard contractual clauses (2021/914)' }],
      controller: { name: 'Acme Events GmbH', dpo: 'dpo@acme.example' },
    });
    expect(declared.statusCode, declared.body).toBe(200);
    const ropa = (await api.as(org.member.token, 'GET', `/v1/orgs/${org.id}/ropa`)).json<{ processing_activities: Array<Record<string, unknown>> }>();
    expect(ropa).toMatchObject({
      controller: { organization: 'Acme Inspections', name: 'Acme Events GmbH', dpo: 'dpo@acme.example', contact: null },
      recipients: { configured: true, list: [{ name: 'Mailer GmbH', country: 'DE' }] },
      transfers_outside_eu: { configured: true, list: [{ country: 'US' }] },
    });
    expect(ropa.processing_activities).toEqual([
      expect.objectContaining({
        collection: 'guests',
        declared: true,
        legal_basis: 'contract',
        purposes: ['Event check-in'],
        data_subjects: ['event guests'],
        categories_of_data: [
          { category: 'contact', records: 1, retention: { days: 90, source: 'org' } },
          { category: 'health', records: 1, retention: { days: 30, source: 'category' } },
        ],
      }),
      expect.objectContaining({ collection: 'inspections', declared: false, categories_of_data: [{ category: 'other', records: 1, retention: { days: 3650, source: 'collection' } }] }),
      expect.objectContaining({ collection: 'visitors', declared: true, records: 0, legal_basis: 'legal_obligation' }),
    ]);
  });

  it('renders a printable page under the strict CSP, with every value escaped', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    await api.settings(org.admin.token, org.id, {
      processing: { guests: { purposes: ['<script>alert(1)</script>'], legal_basis: 'consent' } },
      controller: { name: '"Quotes" & <b>tags</b>' },
    });
    for (const request of [{ url: `/v1/orgs/${org.id}/ropa?format=html`, headers: {} as Record<string, string> }, { url: `/v1/orgs/${org.id}/ropa`, headers: { accept: 'text/html,application/xhtml+xml' } }]) {
      const page = await api.as(org.owner.token, 'GET', request.url, undefined, request.headers);
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.body).toContain('&quot;Quotes&quot; &amp; &lt;b&gt;tags&lt;/b&gt;');
      expect(page.body).not.toMatch(/<script|style=|<style/i);
      expect(page.body).toContain('<link rel="stylesheet" href="/privacy/ropa.css">');
    }
    const json = await api.as(org.owner.token, 'GET', `/v1/orgs/${org.id}/ropa?format=json`, undefined, { accept: 'text/html' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect((await api.as(org.owner.token, 'GET', `/v1/orgs/${org.id}/ropa?format=pdf`)).statusCode).toBe(400);
  });

  it('answers 404 to other tenants and 401 without a sign-in; settings refuse malformed declarations', async () => {
    const api = privacyClient(state.t);
    const org = await api.org();
    const stranger = await api.org();
    expect((await api.as(stranger.owner.token, 'GET', `/v1/orgs/${org.id}/ropa`)).statusCode).toBe(404);
    expect((await api.inject({ method: 'GET', url: `/v1/orgs/${org.id}/ropa` })).statusCode).toBe(401);
    const bad = [
      { processing: { guests: { purposes: ['x'], legal_basis: 'because' } } },
      { processing: { '../x': { purposes: ['x'], legal_basis: 'consent' } } },
      { transfers: [{ country: 'usa', safeguard: 'x' }] },
      { allowed_origins: ['https://example.com/path'] },
      { allowed_origins: ['javascript:alert(1)'] },
      { retention: { collections: { guests: 0 } } },
      {},
      { unknown: true },
    ];
    for (const body of bad) expect((await api.settings(org.admin.token, org.id, body)).statusCode, JSON.stringify(body)).toBe(400);
    expect((await api.settings(stranger.owner.token, org.id, { controller: { name: 'x' } })).statusCode).toBe(404);
  });

  it('documents the privacy routes in the OpenAPI document', async () => {
    const spec = (await state.t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    for (const path of ['/v1/orgs/{org}/ropa', '/v1/orgs/{org}/privacy-settings', '/v1/orgs/{org}/consents', '/v1/orgs/{org}/consents/{subject_id}', '/v1/public/consents/{public_id}', '/v1/orgs/{org}/legal-holds', '/v1/orgs/{org}/exports', '/v1/orgs/{org}/exports/{id}', '/consent/banner.js']) {
      expect(spec.paths, path).toHaveProperty([path]);
    }
  });

  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});
