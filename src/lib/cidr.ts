/**
 * IPv4 / IPv6 addresses and CIDR ranges for key allowlists (`allowed_ips`). Strict
 * parsing: dotted-quad IPv4 without leading zeros, RFC 4291 IPv6 text (with `::` and an
 * embedded IPv4 tail), a prefix length within the family's width, and no host bits set
 * beyond the prefix (so "10.0.0.1/8" is refused: it is almost always a typo). Addresses are
 * compared as bigints; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address, and
 * a range of them (::ffff:a.b.c.d/n, n ≥ 96) is the IPv4 range a.b.c.d/(n − 96): a client's
 * address is folded the same way, so each matches the other in either spelling.
 */
export interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
}

const V4_PART = /^(0|[1-9]\d{0,2})$/;

function parseV4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!V4_PART.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  if (s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  let tail: bigint | null = null;
  let text = s;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    tail = parseV4(s.slice(lastColon + 1));
    if (tail === null) return null;
    text = s.slice(0, lastColon + 1) + "0:0"; // two groups stand for the IPv4 tail
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== null) n = (n & ~0xffffffffn) | tail;
  return n;
}

/** An address as {v6, value}; IPv4-mapped IPv6 becomes IPv4. Null when not an address. */
export function parseIp(s: string): { v6: boolean; value: bigint } | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { v6: false, value: v4 };
  const v6 = parseV6(s);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { v6: false, value: v6 & 0xffffffffn };
  return { v6: true, value: v6 };
}

/** Parse "a.b.c.d/n", "x::y/n" or a bare address (a /32 or /128). Null when invalid. */
export function parseCidr(s: string): Cidr | null {
  if (typeof s !== "string" || s.length > 64) return null;
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  const v4 = parseV4(addr);
  const v6 = v4 === null ? parseV6(addr) : null;
  if (v4 === null && v6 === null) return null;
  const width = v4 !== null ? 32 : 128;
  let bits = width;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    bits = Number(p);
    if (bits > width) return null;
  }
  const base = (v4 ?? v6)!;
  const hostMask = (1n << BigInt(width - bits)) - 1n;
  if ((base & hostMask) !== 0n) return null;
  // An IPv4-mapped range (::ffff:0:0/96 and narrower) is an IPv4 range: clients are folded to IPv4.
  if (v4 === null && bits >= 96 && base >> 32n === 0xffffn)
    return { v6: false, base: base & 0xffffffffn, bits: bits - 96 };
  return { v6: v4 === null, base, bits };
}

function v4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 0xffn)).join(".");
}

/**
 * The stored spelling of an allowlist entry: as given, except that an IPv4-mapped IPv6
 * address or range is written as the IPv4 one it is ("::ffff:1.2.3.4" → "1.2.3.4",
 * "::ffff:1.2.3.0/120" → "1.2.3.0/24"). Null when the entry is not a CIDR.
 */
export function canonicalCidr(s: string): string | null {
  const c = parseCidr(s);
  if (c === null) return null;
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  if (c.v6 || parseV4(addr) !== null) return s;
  return slash < 0 ? v4Text(c.base) : `${v4Text(c.base)}/${c.bits}`;
}

/** Whether every address of `inner` is in `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  if (inner.v6 !== outer.v6 || inner.bits < outer.bits) return false;
  const width = BigInt(inner.v6 ? 128 : 32);
  const shift = width - BigInt(outer.bits);
  return inner.base >> shift === outer.base >> shift;
}

export function inCidr(ip: { v6: boolean; value: bigint }, c: Cidr): boolean {
  if (ip.v6 !== c.v6) return false;
  const width = c.v6 ? 128 : 32;
  return ip.value >> BigInt(width - c.bits) === c.base >> BigInt(width - c.bits);
}

/** True when `ip` (text, e.g. CF-Connecting-IP) is inside one of `ranges`. */
export function ipAllowed(ip: string | null, ranges: Cidr[]): boolean {
  if (ip === null) return false;
  const parsed = parseIp(ip.trim());
  return parsed !== null && ranges.some((r) => inCidr(parsed, r));
}
