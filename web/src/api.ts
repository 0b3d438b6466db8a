/**
 * The dashboard's HTTP client. The access token lives in this module's memory only: never in
 * localStorage or a readable cookie, so a script injected into the page finds nothing to steal
 * that outlives the tab. The refresh token is an HttpOnly cookie the browser sends to the refresh
 * route alone; the `x-rampart-session: cookie` header asks for that mode (and is half of the CSRF
 * defence, see docs/security-model.md "Browser sessions").
 */

export type Realm = 'user' | 'platform';

interface ErrorBody {
  error?: { code?: string; message?: string; request_id?: string; details?: Array<{ path: string; message: string }> };
}

/** An API failure, in the API's own words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly details: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

export interface Tokens {
  access_token: string;
  expires_in: number;
}

const SESSION_HEADER = { 'x-rampart-session': 'cookie' };
// Refresh a minute before the access token expires, so an idle page never sends a stale one.
const REFRESH_MARGIN_S = 60;
export const SESSION_ENDED_MESSAGE = 'Your session has ended: it was signed out on another device, revoked, or expired. Sign in again to continue.';

async function errorOf(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => ({}))) as ErrorBody;
  const message = body.error?.message ?? (response.status === 0 ? 'The server could not be reached' : `The server answered ${response.status}`);
  return new ApiError(response.status, body.error?.code ?? 'http_error', message, body.error?.request_id ?? null, body.error?.details ?? []);
}

/** One realm's session and requests: the tenant dashboard and the platform console have one each. */
export class ApiClient {
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Called once when a session that existed can no longer be refreshed (revoked, expired). */
  onSessionEnded: (message: string) => void = () => undefined;

  constructor(readonly realm: Realm) {}

  private get authBase(): string {
    return this.realm === 'platform' ? '/v1/platform/auth' : '/v1/auth';
  }

  get signedIn(): boolean {
    return this.accessToken !== null;
  }

  /** Keeps the tokens of a sign-in (the refresh token arrived as a cookie). */
  accept(tokens: Tokens): void {
    this.accessToken = tokens.access_token;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), Math.max(5, tokens.expires_in - REFRESH_MARGIN_S) * 1000);
  }

  forget(): void {
    this.accessToken = null;
    clearTimeout(this.timer);
  }

  /** Spends the cookie for a new access token; false when there is no live session. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const hadSession = this.accessToken !== null;
      try {
        const response = await fetch(`${this.authBase}/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...SESSION_HEADER },
          body: '{}',
          credentials: 'same-origin',
        });
        if (!response.ok) {
          this.forget();
          if (hadSession) this.onSessionEnded(SESSION_ENDED_MESSAGE);
          return false;
        }
        this.accept((await response.json()) as Tokens);
        return true;
      } catch {
        // Offline: keep the token we have; the next request tells.
        return this.accessToken !== null;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** A request of the API; a token that expired is refreshed once and the request sent again. */
  async fetch(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Response> {
    const send = () =>
      fetch(path, {
        method,
        credentials: 'same-origin',
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.accessToken ? { authorization: `Bearer ${this.accessToken}` } : {}),
          ...extraHeaders,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    let response = await send();
    if (response.status === 401 && this.accessToken) {
      if (await this.refresh()) response = await send();
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<T> {
    const response = await this.fetch(method, path, body, extraHeaders);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  /** Auth routes that open a session: they ask for the cookie and keep the access token. */
  async signInRequest<T extends object>(path: string, body: unknown): Promise<T> {
    const result = await this.json<T>('POST', path, body, SESSION_HEADER);
    if ('access_token' in result) this.accept(result as unknown as Tokens);
    return result;
  }

  async signOut(): Promise<void> {
    try {
      if (this.accessToken) await this.fetch('POST', `${this.authBase}/logout`);
    } finally {
      this.forget();
    }
  }
}

export const userApi = new ApiClient('user');
export const platformApi = new ApiClient('platform');

/** Saves a response body as a file (exports, bundles), fetched with the in-memory token. */
export async function download(client: ApiClient, path: string, fallbackName: string): Promise<void> {
  const response = await client.fetch('GET', path);
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  saveBlob(await response.blob(), name);
}

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The words to show for any failure. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const detail = error.details.map((d) => `${d.path.replace(/^\//, '') || 'request'}: ${d.message}`).join('; ');
    return detail ? `${error.message} (${detail})` : error.message;
  }
  return error instanceof Error ? error.message : 'Something went wrong';
}
