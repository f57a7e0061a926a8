// Guards outgoing webhook connections: https only, public addresses only (unless the operator allows private ones
// for local development). Checked when an endpoint is registered, changed or re-enabled (after resolving its host
// name), and again at connect time, after DNS; both use isPrivateAddress, so they cannot disagree.
import { lookup as dnsLookup, promises as dnsPromises, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  // ::/96 holds the unspecified and loopback addresses and the deprecated IPv4-compatible form (::a.b.c.d), which
  // old stacks tunnel to the embedded IPv4 address: no receiver has a reason to use any of it.
  ['::', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['3fff::', 20], ['2001:2::', 48],
  ['100::', 64],
  // Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the local prefix length, so it cannot be judged.
  ['64:ff9b:1::', 48],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

/** The eight 16-bit groups of a valid IPv6 address (zone id ignored); null when it cannot be read. */
function ipv6Groups(address: string): number[] | null {
  let text = address.replace(/%.*$/, '').toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string | undefined) => (s ? s.split(':').map((h) => (/^[0-9a-f]{1,4}$/.test(h) ? parseInt(h, 16) : NaN)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return all.some(Number.isNaN) ? null : all;
}

const dottedQuad = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 addresses an IPv6 address carries, for the forms a packet can reach them through: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), NAT64 well-known prefix (64:ff9b::a.b.c.d), 6to4
 * (2002:AABB:CCDD::/48) and Teredo (2001:0::/32: its server, and its client stored inverted in the last 32 bits).
 */
function embeddedIPv4(g: number[]): string[] {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const [g0, g1, g2, g3, , , g6, g7] = g as [number, number, number, number, number, number, number, number];
  if (zeros(0, 5) && g[5] === 0xffff) return [dottedQuad(g6, g7)];
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return [dottedQuad(g6, g7)];
  if (g0 === 0x64 && g1 === 0xff9b && zeros(2, 6)) return [dottedQuad(g6, g7)];
  if (g0 === 0x2002) return [dottedQuad(g1, g2)];
  if (g0 === 0x2001 && g1 === 0) return [dottedQuad(g2, g3), dottedQuad(g6 ^ 0xffff, g7 ^ 0xffff)];
  return [];
}

/** True for any address a webhook must not reach; anything that is not an IP address counts as private. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const groups = ipv6Groups(address);
    if (!groups) return true;
    if (embeddedIPv4(groups).some((v4) => blocked.check(v4, 'ipv4'))) return true;
    return blocked.check(groups.map((x) => x.toString(16)).join(':'), 'ipv6');
  }
  return true;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** The checks that need no DNS: scheme, credentials, fragment, well-known local names and IP literals. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return { ok: false, reason: 'must use https' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
  if (url.hash) return { ok: false, reason: 'must not have a fragment' };
  if (!allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
      return { ok: false, reason: 'must not point at a local or internal host' };
    }
    if (isIP(host) && isPrivateAddress(host)) return { ok: false, reason: 'must not point at a loopback, link-local or private address' };
  }
  return { ok: true, url };
}

/** Resolves a host name to every address it has, as the connect-time lookup sees them (hosts file included). */
export type HostLookup = (hostname: string) => Promise<Array<{ address: string }>>;

const systemLookup: HostLookup = (hostname) => dnsPromises.lookup(hostname, { all: true, verbatim: true });

/**
 * Bounds a registration's wait for the resolver (same as the JWKS fetch): a slow resolver makes the request fail,
 * not hang. getaddrinfo itself cannot be cancelled, so the lookup runs on and its answer is dropped.
 */
export const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * The registration-time check: checkWebhookUrl, then the host name is resolved and refused when it does not resolve
 * or when any of its addresses is private (the connect-time guard would refuse it too). The reasons never name the
 * addresses, which would turn registration into a probe of the service's DNS view.
 */
export async function checkWebhookUrlResolved(
  raw: string,
  allowPrivate: boolean,
  opts: { lookup?: HostLookup; timeoutMs?: number } = {},
): Promise<UrlVerdict> {
  const verdict = checkWebhookUrl(raw, allowPrivate);
  if (!verdict.ok || allowPrivate) return verdict;
  const host = verdict.url.hostname;
  if (host.startsWith('[') || isIP(host)) return verdict; // a literal, judged above
  const timeoutMs = opts.timeoutMs ?? RESOLVE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await Promise.race([
      (opts.lookup ?? systemLookup)(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), timeoutMs);
      }),
    ]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ETIMEOUT') return { ok: false, reason: `has a host name that did not resolve within ${timeoutMs} ms` };
    return { ok: false, reason: 'has a host name that could not be resolved' };
  } finally {
    clearTimeout(timer);
  }
  if (addresses.length === 0) return { ok: false, reason: 'has a host name that could not be resolved' };
  if (addresses.some((a) => isPrivateAddress(a.address))) return { ok: false, reason: 'must not resolve to a loopback, link-local or private address' };
  return verdict;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup for http.request that refuses private addresses after resolution (no DNS-rebinding bypass). */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const bad = !allowPrivate && list.some((a) => isPrivateAddress(a.address));
      if (bad) {
        const e: NodeJS.ErrnoException = new Error('destination address is not public');
        e.code = 'EPRIVATEADDRESS';
        return callback(e, []);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
