import { lookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Webhook URLs are chosen by org admins; without a guard a webhook could probe or call services
 * on Rampart's own network (metadata endpoints, databases' HTTP ports, admin panels), with the
 * deliveries list telling status codes and timings back. In production Rampart connects only to
 * public addresses, checked on the address the socket actually connects to.
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** Whether `address` (an IP literal) is loopback, private, link-local, CGNAT, multicast or reserved. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? INTERNAL.check(mapped[1]!, 'ipv4') : INTERNAL.check(address, 'ipv6');
}

class InternalAddressError extends Error {
  readonly code = 'EINTERNALADDRESS';
}

/** dns.lookup, refusing internal answers: the socket connects to exactly the address checked here. */
function publicLookup(hostname: string, options: LookupOptions, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    if (addresses.length === 0 || addresses.some((entry) => isInternalAddress(entry.address))) return callback(new InternalAddressError('refusing an internal address'), []);
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/** What one attempt came to; `error` is a class of failure, never a response body. */
export interface Outcome {
  statusCode: number | null;
  error: string | null;
  delivered: boolean;
}

/**
 * POSTs `body` once. Redirects are not followed (a 3xx is a failure: an endpoint must not send
 * Rampart's signed requests elsewhere); the attempt gives up after `timeoutMs`; unless
 * `allowInternal` (development and tests, whose receivers run on this machine), only public
 * addresses are connected to.
 */
export function postOnce(url: URL, headers: Record<string, string>, body: string, options: { timeoutMs: number; allowInternal: boolean }): Promise<Outcome> {
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowInternal && isIP(literal) && isInternalAddress(literal)) return Promise.resolve({ statusCode: null, error: 'internal_address', delivered: false });
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(options.allowInternal ? {} : { lookup: publicLookup }),
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        const delivered = status >= 200 && status < 300;
        resolve({ statusCode: status, error: delivered ? null : status >= 300 && status < 400 ? 'redirect_not_followed' : `http_${status}`, delivered });
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      const error_ = error.code === 'EINTERNALADDRESS' ? 'internal_address' : error.name === 'AbortError' || error.name === 'TimeoutError' ? 'timeout' : 'connection_failed';
      resolve({ statusCode: null, error: error_, delivered: false });
    });
    request.end(body);
  });
}
