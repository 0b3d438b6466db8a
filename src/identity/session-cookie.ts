import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Realm } from '../platform/db/index.js';
import { httpErrors } from '../platform/http/index.js';
import { identityErrors } from './identity.errors.js';
import type { TokenPair } from './sessions.service.js';

/**
 * The browser's session: its refresh token lives in an HttpOnly, SameSite=Strict cookie that
 * scripts cannot read, and its access token in the page's memory only (docs/decisions, "Browser
 * sessions"). API clients keep the JSON flow: a request opts into the cookie with the header
 * below, which is also half of the CSRF defence, since a cross-origin page can only send a custom
 * header after a CORS preflight. The other half is the Origin check: the browser always sends
 * Origin on a POST, and it must be this server's own.
 */
export const SESSION_MODE_HEADER = 'x-rampart-session';
const COOKIE_MODE = 'cookie';

/** Reads one cookie of a request (null when absent). */
export function cookieValue(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return null;
}

export interface SessionCookieOptions {
  /** The configured public URL: under https the cookie is `Secure` with the `__Host-` prefix. */
  publicUrl: string;
  /** The cookie lives as long as a session may (its absolute lifetime). */
  maxAgeSeconds: number;
}

/** Tokens as a cookie-mode client receives them: the refresh token went into the cookie. */
export type DeliveredTokens = Omit<TokenPair, 'refresh_token'> & { refresh_token?: string };

export function createSessionCookie(options: SessionCookieOptions) {
  const secure = options.publicUrl.startsWith('https:');
  const publicOrigin = new URL(options.publicUrl).origin;
  const nameOf = (realm: Realm) => `${secure ? '__Host-' : ''}rampart_${realm}_refresh`;
  // Path=/ is what the __Host- prefix demands; SameSite=Strict keeps it off every cross-site request.
  const cookie = (realm: Realm, value: string, maxAge: number) =>
    `${nameOf(realm)}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

  function wantsCookie(request: FastifyRequest): boolean {
    return request.headers[SESSION_MODE_HEADER] === COOKIE_MODE;
  }

  /**
   * The CSRF check of every request that sets or reads the cookie: the custom header (by the
   * caller's choice of mode) and an Origin that is this server's: the public URL, or the origin
   * the request was addressed to (a browser cannot forge Host or Origin).
   */
  function assertSameOrigin(request: FastifyRequest): void {
    const origin = request.headers.origin;
    const ownOrigin = `${request.protocol}://${request.host}`;
    if (!origin || (origin !== publicOrigin && origin !== ownOrigin)) {
      throw httpErrors.forbidden('This request must come from a page of this server (Origin check)');
    }
  }

  return {
    wantsCookie,

    /** Before a sign-in does anything: a cookie-mode request from another origin is refused at once. */
    checkOrigin(request: FastifyRequest): void {
      if (wantsCookie(request)) assertSameOrigin(request);
    },

    /** Sends tokens: in cookie mode the refresh token goes into the cookie and not into the body. */
    deliver(request: FastifyRequest, reply: FastifyReply, realm: Realm, tokens: TokenPair): DeliveredTokens {
      if (!wantsCookie(request)) return tokens;
      assertSameOrigin(request);
      reply.header('set-cookie', cookie(realm, tokens.refresh_token, options.maxAgeSeconds));
      const { refresh_token: _inCookie, ...rest } = tokens;
      return rest;
    },

    /**
     * The refresh token a refresh request presents: the body's for API clients, else the cookie's
     * after the CSRF check. A cookie that fails is cleared so the browser stops sending it.
     */
    presented(request: FastifyRequest, realm: Realm, fromBody: string | undefined): string {
      if (fromBody !== undefined) return fromBody;
      if (!wantsCookie(request)) throw httpErrors.invalid_request('Send refresh_token, or use the session cookie (x-rampart-session: cookie)');
      assertSameOrigin(request);
      const value = cookieValue(request, nameOf(realm));
      if (!value) throw identityErrors.unauthenticated('There is no session in this browser; sign in');
      return value;
    },

    /**
     * Sets the cookie on a top-level redirect back from an external provider, which carries no
     * Origin to check: there the OIDC state cookie already binds the sign-in to this browser.
     */
    setAfterExternalSignIn(reply: FastifyReply, realm: Realm, refreshToken: string): void {
      reply.header('set-cookie', cookie(realm, refreshToken, options.maxAgeSeconds));
    },

    /** Tells the browser to forget the cookie (sign-out, or a refresh that failed). */
    clear(reply: FastifyReply, realm: Realm): void {
      reply.header('set-cookie', cookie(realm, '', 0));
    },
  };
}

export type SessionCookie = ReturnType<typeof createSessionCookie>;
