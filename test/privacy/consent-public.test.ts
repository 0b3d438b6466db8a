import { describe, expect, it } from 'vitest';
import { errorCode, RELAXED_LIMITS } from '../identity/support.js';
import { useVaultApp } from '../vault/support.js';
import { privacyClient } from './consent-support.js';

const SITE = 'https://www.acme-events.example';
const visit = (subject: string, purposes: Record<string, boolean> = { necessary: true, analytics: true, marketing: true }) => ({ subject_id: subject, purposes, policy_version: 'v3' });

/** An org whose website is allowed to post consents, with its public id. */
async function siteOrg(api: ReturnType<typeof privacyClient>) {
  const org = await api.org();
  expect((await api.settings(org.admin.token, org.id, { allowed_origins: [SITE] })).statusCode).toBe(200);
  return { org, publicId: await api.publicId(org.admin.token, org.id) };
}

describe('the public consent endpoint', () => {
  const state = useVaultApp();

  it('records a visitor\'s choice by the org\'s public id, with CORS for an allowed origin', async () => {
    const api = privacyClient(state.t);
    const { org, publicId } = await siteOrg(api);
    expect(publicId).toMatch(/^org_[0-9a-f]{32}$/);
    const posted = await api.inject({ method: 'POST', url: `/v1/public/consents/${publicId}`, headers: { origin: SITE }, payload: visit('visitor-1', { necessary: true, analytics: true, marketing: false }) });
    expect(posted.statusCode, posted.body).toBe(201);
    expect(posted.headers['access-control-allow-origin']).toBe(SITE);
    expect(posted.headers['access-control-allow-credentials']).toBeUndefined();
    expect(posted.json()).toMatchObject({ purposes: { necessary: true, analytics: true, marketing: false }, signal: null });
    const read = await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/${encodeURIComponent('visitor:visitor-1')}`);
    expect(read.json()).toMatchObject({ current: { subject_id: 'visitor:visitor-1', source: 'banner', policy_version: 'v3' } });
    // A forged public post naming a host's own subject id lands under the visitor namespace: the
    // choice the host recorded for that subject stays current.
    expect((await api.as(org.admin.token, 'POST', `/v1/orgs/${org.id}/consents`, { subject_id: 'cust-9', purposes: { necessary: true, analytics: false, marketing: false }, source: 'settings_page', policy_version: 'v3' })).statusCode).toBe(201);
    expect((await api.inject({ method: 'POST', url: `/v1/public/consents/${publicId}`, payload: visit('cust-9') })).statusCode).toBe(201);
    expect((await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/cust-9`)).json()).toMatchObject({ current: { source: 'settings_page', purposes: { marketing: false } } });
    const [entry] = await api.auditOf(org.id, 'consent.recorded');
    expect(entry).toMatchObject({ actor_type: 'system', actor_id: 'consent_banner' });
  });

  it('records an opt-out of every non-essential purpose under Sec-GPC: 1 or DNT: 1, whatever the body says', async () => {
    const api = privacyClient(state.t);
    const { org, publicId } = await siteOrg(api);
    await api.settings(org.admin.token, org.id, { consent_purposes: ['chat'] });
    const gpc = await api.inject({ method: 'POST', url: `/v1/public/consents/${publicId}`, headers: { origin: SITE, 'sec-gpc': '1' }, payload: visit('gpc-1', { necessary: true, analytics: true, marketing: true, chat: true }) });
    expect(gpc.statusCode, gpc.body).toBe(201);
    expect(gpc.json()).toMatchObject({ purposes: { necessary: true, analytics: false, marketing: false, chat: false }, signal: 'gpc' });
    const dnt = await api.inject({ method: 'POST', url: `/v1/public/consents/${publicId}`, headers: { dnt: '1' }, payload: visit('dnt-1') });
    expect(dnt.json()).toMatchObject({ purposes: { necessary: true, analytics: false, marketing: false }, signal: 'dnt' });
    const history = await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/${encodeURIComponent('visitor:gpc-1')}`);
    expect(history.json()).toMatchObject({ current: { signal: 'gpc', purposes: { analytics: false } } });
    // Any other value is no signal.
    const zero = await api.inject({ method: 'POST', url: `/v1/public/consents/${publicId}`, headers: { 'sec-gpc': '0' }, payload: visit('gpc-0') });
    expect(zero.json()).toMatchObject({ purposes: { analytics: true, marketing: true }, signal: null });
  });

  it('answers preflights for allowed origins only, and refuses posts from other origins', async () => {
    const api = privacyClient(state.t);
    const { org, publicId } = await siteOrg(api);
    const url = `/v1/public/consents/${publicId}`;
    const allowed = await api.inject({ method: 'OPTIONS', url, headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': SITE, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type', vary: 'Origin' });
    const foreign = await api.inject({ method: 'OPTIONS', url, headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const refused = await api.inject({ method: 'POST', url, headers: { origin: 'https://evil.example' }, payload: visit('evil-1') });
    expect(refused.statusCode).toBe(403);
    expect(errorCode(refused)).toBe('origin_not_allowed');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect((await api.as(org.admin.token, 'GET', `/v1/orgs/${org.id}/consents/${encodeURIComponent('visitor:evil-1')}`)).statusCode).toBe(404);
    // An org that allowed no origin at all refuses every page.
    const bare = await api.org();
    const barePublic = await api.publicId(bare.admin.token, bare.id);
    expect((await api.inject({ method: 'POST', url: `/v1/public/consents/${barePublic}`, headers: { origin: SITE }, payload: visit('x') })).statusCode).toBe(403);
  });

  it('answers 404 for an unknown or malformed public id, and 400/413/415 for bad bodies', async () => {
    const api = privacyClient(state.t);
    const { publicId } = await siteOrg(api);
    const url = `/v1/public/consents/${publicId}`;
    expect((await api.inject({ method: 'POST', url: `/v1/public/consents/org_${'0'.repeat(32)}`, payload: visit('a') })).statusCode).toBe(404);
    expect((await api.inject({ method: 'POST', url: '/v1/public/consents/not-an-id', payload: visit('a') })).statusCode).toBe(404);
    // The org's real tenant id is not a public id.
    const { org } = await siteOrg(api);
    expect((await api.inject({ method: 'POST', url: `/v1/public/consents/${org.id}`, payload: visit('a') })).statusCode).toBe(404);
    expect((await api.inject({ method: 'POST', url, payload: { ...visit('a'), source: 'api' } })).statusCode).toBe(400);
    expect((await api.inject({ method: 'POST', url, payload: { ...visit('a'), purposes: {} } })).statusCode).toBe(400);
    expect((await api.inject({ method: 'POST', url, payload: { ...visit('a b') } })).statusCode).toBe(400);
    expect((await api.inject({ method: 'POST', url, payload: { ...visit('a'), purposes: { Analytics: true } } })).statusCode).toBe(400);
    expect((await api.inject({ method: 'POST', url, payload: { ...visit('a'), policy_version: 'p'.repeat(5000) } })).statusCode).toBe(413);
    expect((await api.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(visit('a')) })).statusCode).toBe(415);
    expect((await api.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"subject_id":' })).statusCode).toBe(400);
  });
});

describe('the public consent endpoint under attack', () => {
  const state = useVaultApp({ ...RELAXED_LIMITS, RAMPART_RATE_LIMIT_AUTH_PER_IP: '3' });

  it('is rate-limited per address by the stricter bucket, before the body is read', async () => {
    // No org needed (signing up would draw from the same bucket): the limit applies before the org is looked up.
    const api = privacyClient(state.t);
    const url = `/v1/public/consents/org_${'0'.repeat(32)}`;
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await api.inject({ method: 'POST', url, payload: { bad: i } })).statusCode);
    expect(codes).toEqual([400, 400, 400, 429]);
    const limited = await api.inject({ method: 'POST', url, payload: visit('late') });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });
});

describe('the consent banner script', () => {
  const state = useVaultApp();

  it('is served as JavaScript, small, cacheable with an ETag, and embeddable by other origins', async () => {
    const api = privacyClient(state.t);
    const script = await api.inject({ method: 'GET', url: '/consent/banner.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toBe('public, max-age=3600, must-revalidate');
    expect(script.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    expect(script.rawPayload.length).toBeLessThan(10_000);
    const etag = script.headers.etag as string;
    expect((await api.inject({ method: 'GET', url: '/consent/banner.js', headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const sheet = await api.inject({ method: 'GET', url: '/consent/banner.css' });
    expect(sheet.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(sheet.headers['cross-origin-resource-policy']).toBe('cross-origin');
    // Everything else keeps the same-origin policy.
    expect((await api.inject({ method: 'GET', url: '/privacy/ropa.css' })).headers['cross-origin-resource-policy']).toBe('same-origin');
  });

  it('sets no inline style or markup a strict CSP would block, and exposes the choice to the page', async () => {
    const api = privacyClient(state.t);
    const source = (await api.inject({ method: 'GET', url: '/consent/banner.js' })).body;
    expect(source).not.toMatch(/setAttribute\(\s*'style'|\.style\b|innerHTML|insertAdjacentHTML|eval\(|new Function/);
    expect(source).toContain("new CustomEvent('rampart:consent'");
    expect(source).toContain('window.RampartConsent');
    expect(source).toContain('/v1/public/consents/');
    expect(source).not.toMatch(/\brequire\(|\bimport\s/);
  });
});
