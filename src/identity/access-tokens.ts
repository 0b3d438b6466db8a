import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import type { JWK, KeyObject as JoseKey } from 'jose';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import type { DB, Realm } from '../platform/db/index.js';
import { ensureSigningKey, listPublicKeys } from '../crypto/signing-keys.js';
import type { SigningKey } from '../crypto/signing-keys.js';
import { httpErrors } from '../platform/http/index.js';
import { identityErrors } from './identity.errors.js';

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  amr: string[];
  /** The principal's token version when issued; a raised version refuses older tokens. */
  tv: number;
  iat: number;
  exp: number;
}

export interface AccessTokens {
  /**
   * Loads the active signing key (creating it on first start) and the keys verification accepts,
   * dropping retired ones. Call it when the app is ready and then periodically: on PGlite, loading
   * lazily inside a request's transaction would wait for the very connection it holds.
   */
  loadKeys(): Promise<void>;
  issue(realm: Realm, claims: { sub: string; sid: string; amr: string[]; tv: number }): Promise<string>;
  /** Verifies signature, algorithm, issuer, audience and times; throws 401 otherwise. */
  verify(realm: Realm, token: string): Promise<AccessTokenClaims>;
}

// Each realm is its own audience: a platform token is refused on tenant routes and the reverse.
export function audienceFor(realm: Realm): string {
  return realm === 'user' ? 'rampart' : 'rampart-platform';
}

// A token naming a key we do not know triggers one reload of the key list, at most this often,
// so forged `kid`s cannot turn into a query per request.
const KEY_RELOAD_INTERVAL_MS = 10_000;
/** After `rampart keys rotate` on any node, every node signs with the new key within this time. */
export const SIGNING_KEY_REFRESH_MS = 60_000;

/**
 * EdDSA (Ed25519) access tokens. Verification accepts only EdDSA and only keys from our own
 * `signing_keys`, looked up by `kid`: headers such as `jku`, `x5u` or an embedded `jwk` are never
 * used to find a key, and `alg: none` or HS256 tokens fail the algorithm check.
 */
export function createAccessTokens(deps: { db: Kysely<DB>; sealingKey: Buffer; issuer: string; ttlSeconds: number; clock: Clock }): AccessTokens {
  let keys = new Map<string, JoseKey | Uint8Array>();
  let loadedAt = -Infinity;
  let signingKey: SigningKey | null = null;

  async function loadKeys(): Promise<void> {
    signingKey = await ensureSigningKey(deps.db, deps.sealingKey, 'access-token');
    await reloadKeys();
  }

  async function reloadKeys(): Promise<void> {
    loadedAt = Date.now();
    const jwks = await listPublicKeys(deps.db, 'access-token', deps.clock.now());
    const next = new Map<string, JoseKey | Uint8Array>();
    for (const jwk of jwks) next.set(String(jwk.kid), await importJWK(jwk as JWK, 'EdDSA'));
    keys = next;
  }

  async function keyFor(kid: string | undefined): Promise<JoseKey | Uint8Array> {
    if (!kid) throw identityErrors.unauthenticated('The access token names no key');
    if (!keys.has(kid) && Date.now() - loadedAt > KEY_RELOAD_INTERVAL_MS) await reloadKeys();
    const key = keys.get(kid);
    if (!key) throw identityErrors.unauthenticated('The access token is signed by an unknown key');
    return key;
  }

  return {
    loadKeys,

    async issue(realm, claims) {
      const now = Math.floor(deps.clock.now().getTime() / 1000);
      // Never loaded lazily here: issue() runs inside the sign-in transaction, and on PGlite a load
      // would wait for the connection that transaction holds.
      const key = signingKey;
      if (!key) throw httpErrors.unavailable('Signing keys are not loaded yet; retry shortly', { headers: { 'retry-after': '5' } });
      return new SignJWT({ sid: claims.sid, amr: claims.amr, tv: claims.tv })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
        .setIssuer(deps.issuer)
        .setAudience(audienceFor(realm))
        .setSubject(claims.sub)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + deps.ttlSeconds)
        .sign(key.privateKey);
    },

    async verify(realm, token) {
      try {
        if (!isCanonicalEncoding(token)) throw identityErrors.unauthenticated('The access token is not valid');
        const { payload } = await jwtVerify(token, (header) => keyFor(header.kid), {
          algorithms: ['EdDSA'],
          issuer: deps.issuer,
          audience: audienceFor(realm),
          currentDate: deps.clock.now(),
          requiredClaims: ['sub', 'sid', 'iat', 'exp', 'nbf'],
          typ: 'at+jwt',
        });
        if (typeof payload.sid !== 'string' || typeof payload.tv !== 'number' || !Array.isArray(payload.amr)) {
          throw identityErrors.unauthenticated('The access token is malformed');
        }
        return payload as unknown as AccessTokenClaims;
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw identityErrors.token_expired();
        if (error instanceof joseErrors.JOSEError) throw identityErrors.unauthenticated('The access token is not valid');
        throw error;
      }
    },
  };
}

/**
 * Base64url lets the last character of a segment carry unused bits, so one signature has several
 * spellings that jose decodes alike; a token must be the one canonical text of its bytes, or a
 * token that differs in text (to a log, a deny list, a replay check) would still be accepted.
 */
function isCanonicalEncoding(token: string): boolean {
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}
