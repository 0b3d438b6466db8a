import { isIPv4, isIPv6 } from 'node:net';

// Enough of a user agent to tell browsers apart as proof, too little to fingerprint a person.
const USER_AGENT_CHARS = 120;

/**
 * The network part of an address, kept as proof of where a consent came from without keeping who:
 * IPv4 to its /24, IPv6 to its /48 (an IPv4-mapped IPv6 address as IPv4). Anything else is dropped.
 */
export function truncateIp(ip: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return truncateIp(mapped);
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(ip)) return null;
  const groups = expandIPv6(ip.split('%')[0]!);
  return `${groups.slice(0, 3).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/48`;
}

/** The eight groups of an IPv6 address, `::` filled in. */
function expandIPv6(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; the /48 never reaches it.
  const width = [...left, ...right].reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  return [...left, ...Array<string>(tail === undefined ? 0 : 8 - width).fill('0'), ...right];
}

/** The start of a user agent, printable ASCII only. */
export function truncateUserAgent(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const printable = userAgent.replace(/[^\x20-\x7e]/g, '').slice(0, USER_AGENT_CHARS);
  return printable === '' ? null : printable;
}
