/**
 * What makes a login "new": the browser family, the OS family and the IP address
 * (IPv6 addresses in the same /64 count as one). Versions are ignored, so a browser
 * update does not alert. Stored only as a keyed HMAC.
 */
import { isIP } from 'node:net';
import UAParser from 'ua-parser-js';
import { keyedHmac } from './tokens.js';

export interface Device {
  browser: string;
  os: string;
}

export function parseUserAgent(userAgent: string): Device {
  const result = new UAParser(userAgent.slice(0, 1024)).getResult();
  return { browser: result.browser.name || 'Unknown browser', os: result.os.name || 'Unknown OS' };
}

/** Expands an IPv6 address to 8 groups of 4 hex digits. */
function expandIpv6(address: string): string[] {
  let text = address.toLowerCase().split('%')[0]!;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.replace(v4[1]!, `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`);
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(tail !== undefined ? missing : 0).fill('0'), ...tailGroups];
  return groups.map((g) => g.padStart(4, '0'));
}

/** The network a login comes from: the IPv4 address, or the IPv6 /64 prefix. */
export function ipNetwork(ip: string): string {
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind === 6) {
    const groups = expandIpv6(ip);
    // IPv4-mapped IPv6 is the IPv4 address.
    if (groups.slice(0, 5).every((g) => g === '0000') && groups[5] === 'ffff') {
      const n = (i: number) => parseInt(groups[i]!, 16);
      return `${n(6) >> 8}.${n(6) & 255}.${n(7) >> 8}.${n(7) & 255}`;
    }
    return `${groups.slice(0, 4).join(':')}::/64`;
  }
  return ip || 'unknown';
}

export function comboHmac(key: Buffer, device: Device, ip: string): string {
  return keyedHmac(key, `${device.browser}\u0000${device.os}\u0000${ipNetwork(ip)}`);
}
