/**
 * The client IP every per-IP limit uses (login, registration, upgrade attempts, open sockets).
 * Without TRUST_PROXY it is the TCP peer. With it, `X-Forwarded-For` is honoured only when the peer
 * is one of the listed proxies, and then read from the right: each trusted hop appended the address
 * it saw, so the first address from the right that is not a trusted proxy is the client. Entries
 * left of it were written by the client itself and are never believed.
 */
import net from 'node:net';

export type TrustedProxies = net.BlockList | undefined;

/** Strips the IPv4-mapped IPv6 prefix uWS reports for IPv4 peers on a dual-stack socket. */
export function normaliseIp(ip: string): string {
  const s = ip.trim().toLowerCase();
  return s.startsWith('::ffff:') && net.isIPv4(s.slice(7)) ? s.slice(7) : s;
}

/** A BlockList of the TRUST_PROXY entries (`10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`); throws on a bad entry. */
export function trustedProxies(entries: readonly string[] | undefined): TrustedProxies {
  if (entries === undefined || entries.length === 0) return undefined;
  const list = new net.BlockList();
  for (const e of entries) {
    const r = parseProxyEntry(e);
    if (!r.ok) throw new Error(r.problem);
    if (r.prefix === undefined) list.addAddress(r.address, r.family);
    else list.addSubnet(r.address, r.prefix, r.family);
  }
  return list;
}

export function parseProxyEntry(e: string):
  | { ok: true; address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' }
  | { ok: false; problem: string } {
  const [addr = '', bits, extra] = e.trim().split('/');
  const v = net.isIP(addr);
  if (v === 0 || extra !== undefined) return { ok: false, problem: `"${e}" is not an IP address or CIDR` };
  const family = v === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) return { ok: true, address: addr, prefix: undefined, family };
  const max = v === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || Number(bits) > max) return { ok: false, problem: `"${e}" has a bad prefix length` };
  return { ok: true, address: addr, prefix: Number(bits), family };
}

function isTrusted(list: net.BlockList, ip: string): boolean {
  const v = net.isIP(ip);
  return v !== 0 && list.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}

/** `peer` as uWS reports it; `forwardedFor` the raw `X-Forwarded-For` header ('' when absent). */
export function clientIp(peer: string, forwardedFor: string, trusted: TrustedProxies): string {
  const p = normaliseIp(peer);
  if (trusted === undefined || forwardedFor === '' || !isTrusted(trusted, p)) return p;
  const hops = forwardedFor.split(',').map(normaliseIp).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (net.isIP(hop) === 0) return p; // a malformed header: fall back to the proxy itself
    if (!isTrusted(trusted, hop)) return hop;
  }
  return hops[0] ?? p; // every hop is a proxy: the leftmost one is as far as we can see
}

const cache = new WeakMap<object, TrustedProxies>();

/** `trustedProxies` of a config, built once per config object. */
export function trustedProxiesOf(config: { trustProxy: readonly string[] | undefined }): TrustedProxies {
  if (!cache.has(config)) cache.set(config, trustedProxies(config.trustProxy));
  return cache.get(config);
}
