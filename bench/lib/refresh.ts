import type autocannon from 'autocannon';

/**
 * Each connection spends only the token its own previous response returned, so no request ever
 * presents a spent token (which would revoke the session, correctly, and fail the run). autocannon
 * resets a connection's context before every request, so the hand-over cannot live there; but it
 * reads a response (`onResponse`) and builds that connection's next request (`setupRequest`) in one
 * synchronous step, so a single hand-over slot cannot be taken by another connection. A
 * connection's first request takes one of the fresh chains. `extraHeaders`, when given, adds
 * headers to every request (fresh each time, e.g. a forwarded address).
 */
export function refreshRequests(firstTokens: string[], extraHeaders?: () => Record<string, string>): autocannon.Request[] {
  const fresh = [...firstTokens];
  let handOver: string | null = null;
  return [
    {
      method: 'POST',
      path: '/v1/auth/token/refresh',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => {
        // Only after a failed response: the run is already invalid, and this makes it fail loudly.
        const token = handOver ?? fresh.pop() ?? 'no-refresh-token-chain-left';
        handOver = null;
        const headers = extraHeaders ? { ...request.headers, ...extraHeaders() } : request.headers;
        return { ...request, headers, body: JSON.stringify({ refresh_token: token }) };
      },
      onResponse: (status, body) => {
        if (status === 200) handOver = (JSON.parse(body) as { refresh_token: string }).refresh_token;
      },
    },
  ];
}
