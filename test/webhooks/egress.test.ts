import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInternalAddress, postOnce } from '../../src/webhooks/egress.js';

describe('webhook egress: public addresses only in production', () => {
  let port: number;
  let received = 0;
  const server = createServer((request, response) => {
    received += 1;
    request.resume();
    if (request.url === '/moved') response.writeHead(302, { location: 'http://127.0.0.1/elsewhere' }).end();
    else response.writeHead(204).end();
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  it('tells internal addresses from public ones, IPv4-mapped IPv6 included', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', 'not an address']) {
      expect(isInternalAddress(address), address).toBe(true);
    }
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isInternalAddress(address), address).toBe(false);
  });

  it('refuses an internal address given as a literal or found through DNS, and sends nothing', async () => {
    const options = { timeoutMs: 5000, allowInternal: false };
    expect(await postOnce(new URL(`http://127.0.0.1:${port}/hook`), {}, '{}', options)).toEqual({ statusCode: null, error: 'internal_address', delivered: false });
    expect(await postOnce(new URL(`http://localhost:${port}/hook`), {}, '{}', options)).toEqual({ statusCode: null, error: 'internal_address', delivered: false });
    expect(await postOnce(new URL(`http://[::1]:${port}/hook`), {}, '{}', options)).toEqual({ statusCode: null, error: 'internal_address', delivered: false });
    expect(received).toBe(0);
  });

  it('delivers to this machine where internal addresses are allowed (development, tests), and follows no redirect', async () => {
    const options = { timeoutMs: 5000, allowInternal: true };
    expect(await postOnce(new URL(`http://localhost:${port}/hook`), {}, '{}', options)).toEqual({ statusCode: 204, error: null, delivered: true });
    expect(await postOnce(new URL(`http://127.0.0.1:${port}/moved`), {}, '{}', options)).toEqual({ statusCode: 302, error: 'redirect_not_followed', delivered: false });
    expect(received).toBe(2);
  });
});
