/**
 * Attacks on access and refresh tokens. An attacker who holds one token (their own, or a stolen
 * one) tries to make the API accept a token it never issued or no longer honours: an unsigned
 * token (`alg: none`), one signed with HMAC using the public key as the secret (algorithm
 * confusion), a token whose claims were edited, one minted for another audience or by another
 * issuer, one that names its own key (`jwk`/`jku` headers), an expired one, the token of a session
 * that was logged out, an API key in place of a user token, and a refresh token that was already
 * spent (which must end the whole session, since it means the token was stolen and used twice).
 * Every one of them must be refused with 401.
 */
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/crypto/root-key.js';
import { ensureSigningKey } from '../../src/crypto/signing-keys.js';
import type { SigningKey } from '../../src/crypto/signing-keys.js';
import { createAccessTokens } from '../../src/identity/access-tokens.js';
import { createTestApp, TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { decodeJwt, errorCode, identityClient, RELAXED_LIMITS } from './support.js';
import type { IdentityClient, Tokens } from './support.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
}

/** An HS256 token over `header` and `claims`, keyed with `secret`. */
function hs256(header: Record<string, unknown>, claims: Record<string, unknown>, secret: Buffer | string): string {
  const input = `${b64({ ...header, alg: 'HS256' })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('token attacks', () => {
  let t: TestApp;
  let api: IdentityClient;
  let signingKey: SigningKey;
  const clock = new FakeClock(new Date());
  const sealingKey = deriveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'signing-keys');

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS, { clock });
    api = identityClient(t);
    // The app's own key, to mint tokens that differ from genuine ones in exactly one respect.
    signingKey = await ensureSigningKey(t.db.database.db, sealingKey, 'access-token');
  }, 60_000);
  afterAll(async () => t.close());

  async function expectRefused(token: string, code = 'unauthenticated') {
    const response = await api.me(token);
    expect(response.statusCode, response.body).toBe(401);
    expect(errorCode(response)).toBe(code);
  }

  /** Mints with the app's real key, as the app would, but with the given issuer. */
  async function minter(issuer: string) {
    const tokens = createAccessTokens({ db: t.db.database.db, sealingKey, issuer, ttlSeconds: 900, clock });
    await tokens.loadKeys();
    return tokens;
  }

  it('the control: a token minted with the real key, issuer and audience is accepted', async () => {
    const { id, tokens } = await api.account();
    const claims = decodeJwt(tokens.access_token);
    const token = await (await minter(t.config.publicUrl)).issue('user', { sub: id, sid: String(claims.sid), amr: ['pwd'], tv: Number(claims.tv) });
    expect((await api.me(token)).statusCode).toBe(200);
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses an unsigned token (alg: %s)', async (alg) => {
    const { tokens } = await api.account();
    const [, payload] = tokens.access_token.split('.');
    const header = { ...headerOf(tokens.access_token), alg };
    await expectRefused(`${b64(header)}.${payload}.`);
    // Keeping the genuine signature does not help either.
    await expectRefused(`${b64(header)}.${payload}.${tokens.access_token.split('.')[2]}`);
  });

  it('refuses HS256 tokens keyed with the public key, in every form it is published in', async () => {
    const { tokens } = await api.account();
    const header = headerOf(tokens.access_token);
    const claims = decodeJwt(tokens.access_token);
    const jwks = (await api.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: JsonWebKey[] }>().keys;
    const jwk = jwks.find((key) => key.kid === header.kid)!;
    expect(jwk).toBeDefined();
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    const secrets: Array<Buffer | string> = [
      Buffer.from(jwk.x!, 'base64url'),
      jwk.x!,
      JSON.stringify(jwk),
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      publicKey.export({ type: 'spki', format: 'der' }),
    ];
    for (const secret of secrets) await expectRefused(hs256(header, claims, secret));
  });

  it('refuses a token whose payload was edited (another user, an added factor, a later expiry)', async () => {
    const victim = await api.account();
    const attacker = await api.account();
    const [header, , signature] = attacker.tokens.access_token.split('.');
    const claims = decodeJwt(attacker.tokens.access_token);
    const edits = [
      { ...claims, sub: victim.id, sid: decodeJwt(victim.tokens.access_token).sid },
      { ...claims, amr: ['pwd', 'otp'] },
      { ...claims, exp: Number(claims.exp) + 86_400 },
    ];
    for (const edited of edits) await expectRefused(`${header}.${b64(edited)}.${signature}`);
    // The untouched token still works: the refusals above are about the edits.
    expect((await api.me(attacker.tokens.access_token)).statusCode).toBe(200);
  });

  it("refuses a platform token (audience 'rampart-platform') on a user route", async () => {
    const { id, tokens } = await api.account();
    const claims = decodeJwt(tokens.access_token);
    const token = await (await minter(t.config.publicUrl)).issue('platform', { sub: id, sid: String(claims.sid), amr: ['pwd', 'otp'], tv: Number(claims.tv) });
    expect(decodeJwt(token).aud).toBe('rampart-platform');
    await expectRefused(token);
  });

  it('refuses a token from another issuer', async () => {
    const { id, tokens } = await api.account();
    const claims = decodeJwt(tokens.access_token);
    const token = await (await minter('https://attacker.example')).issue('user', { sub: id, sid: String(claims.sid), amr: ['pwd'], tv: Number(claims.tv) });
    await expectRefused(token);
  });

  it('refuses a token signed by a key it names itself (jwk, jku, x5u) or an unknown kid', async () => {
    const { tokens } = await api.account();
    const claims = decodeJwt(tokens.access_token);
    const header = headerOf(tokens.access_token);
    const attackerKeys = generateKeyPairSync('ed25519');
    const attackerJwk = attackerKeys.publicKey.export({ format: 'jwk' });
    const sign = (extra: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: String(header.kid), ...extra }).sign(attackerKeys.privateKey);
    await expectRefused(await sign({ jwk: attackerJwk }));
    await expectRefused(await sign({ jku: 'https://attacker.example/jwks.json' }));
    await expectRefused(await sign({ x5u: 'https://attacker.example/cert.pem' }));
    await expectRefused(await sign({ kid: 'attacker-key' }));
  });

  it('refuses a token that is not yet valid (nbf in the future)', async () => {
    const { id, tokens } = await api.account();
    const claims = decodeJwt(tokens.access_token);
    const now = Math.floor(clock.now().getTime() / 1000);
    const token = await new SignJWT({ sid: claims.sid, amr: ['pwd'], tv: claims.tv })
      .setProtectedHeader({ alg: 'EdDSA', kid: signingKey.kid, typ: 'at+jwt' })
      .setIssuer(t.config.publicUrl)
      .setAudience('rampart')
      .setSubject(id)
      .setIssuedAt(now)
      .setNotBefore(now + 600)
      .setExpirationTime(now + 900)
      .sign(signingKey.privateKey);
    await expectRefused(token);
  });

  it('refuses an expired access token with token_expired; a refresh then works', async () => {
    const { tokens } = await api.account();
    clock.advance(15 * 60_000 + 1_000);
    await expectRefused(tokens.access_token, 'token_expired');
    const refreshed = await api.refresh(tokens.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect((await api.me(refreshed.json<Tokens>().access_token)).statusCode).toBe(200);
  });

  it('refuses the access token of a logged-out session', async () => {
    const { tokens } = await api.account();
    expect((await api.as(tokens.access_token, 'POST', '/v1/auth/logout')).statusCode).toBe(204);
    await expectRefused(tokens.access_token);
    // Logging out twice with it does not work either.
    expect((await api.as(tokens.access_token, 'POST', '/v1/auth/logout')).statusCode).toBe(401);
  });

  it('refuses an API key on a user route', async () => {
    await expectRefused(`rk_live_${'a'.repeat(40)}`);
    await expectRefused(`rk_test_${'Z9'.repeat(20)}`);
  });

  it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer  two  spaces', 'Token abc.def.ghi', 'Bearer abc.def'])('refuses the Authorization header %j', async (authorization) => {
    const response = await api.inject({ method: 'GET', url: '/v1/me', headers: { authorization } });
    expect(response.statusCode).toBe(401);
  });

  it('a spent refresh token presented again answers refresh_token_reused and ends the whole session', async () => {
    const { id, email, tokens } = await api.account();
    const other = await api.tokens(email);
    const rotated = (await api.refresh(tokens.refresh_token)).json<Tokens>();
    expect((await api.me(rotated.access_token)).statusCode).toBe(200);

    const replay = await api.refresh(tokens.refresh_token);
    expect(replay.statusCode).toBe(401);
    expect(errorCode(replay)).toBe('refresh_token_reused');

    // The legitimate holder's tokens die with the session ...
    await expectRefused(rotated.access_token);
    expect((await api.refresh(rotated.refresh_token)).statusCode).toBe(401);
    // ... but the user's other sessions do not.
    expect((await api.me(other.access_token)).statusCode).toBe(200);

    const event = await t.db.database.db
      .selectFrom('security_events')
      .select(['action', 'metadata'])
      .where('principal_id', '=', id)
      .where('action', '=', 'auth.refresh_token_reused')
      .executeTakeFirst();
    expect(event?.metadata).toEqual({ session_id: decodeJwt(tokens.access_token).sid });
  });

  it('two concurrent refreshes with one token: exactly one succeeds', async () => {
    const { tokens } = await api.account();
    const results = await Promise.all([api.refresh(tokens.refresh_token), api.refresh(tokens.refresh_token)]);
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 401]);
  });
});
