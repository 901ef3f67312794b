/** The allowlist's address and CIDR parsing (src/lib/cidr.ts), edge by edge. */
import { describe, expect, it } from "vitest";
import { canonicalCidr, cidrWithin, inCidr, ipAllowed, parseCidr, parseIp } from "../../../src/lib/cidr";

describe("parseIp", () => {
  it("reads IPv4, IPv6 in every notation, and IPv4-mapped IPv6 as IPv4", () => {
    expect(parseIp("192.0.2.1")).toEqual({ v6: false, value: 0xc0000201n });
    expect(parseIp("::")).toEqual({ v6: true, value: 0n });
    expect(parseIp("::1")).toEqual({ v6: true, value: 1n });
    expect(parseIp("2001:db8::")).toEqual({ v6: true, value: 0x20010db8n << 96n });
    expect(parseIp("2001:0DB8:0:0:0:0:0:1")).toEqual(parseIp("2001:db8::1"));
    expect(parseIp("64:ff9b::192.0.2.1")).toEqual({ v6: true, value: (0x64ff9bn << 96n) | 0xc0000201n });
    expect(parseIp("::ffff:192.0.2.1")).toEqual({ v6: false, value: 0xc0000201n });
  });

  it("refuses what is not an address", () => {
    for (const s of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.1.1.1",
      "1.1.1.-1",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "g::1",
      "::ffff:1.2.3",
      " ::1",
      "1.2.3.4 ",
    ]) {
      expect(parseIp(s), s).toBeNull();
    }
  });
});

describe("parseCidr / inCidr", () => {
  it("prefix bounds per family, no host bits past the prefix, bare addresses are /32 and /128", () => {
    expect(parseCidr("0.0.0.0/0")).toEqual({ v6: false, base: 0n, bits: 0 });
    expect(parseCidr("10.0.0.0/8")).toMatchObject({ bits: 8 });
    expect(parseCidr("10.0.0.1/8")).toBeNull();
    expect(parseCidr("10.0.0.1")).toMatchObject({ bits: 32 });
    expect(parseCidr("1.2.3.4/33")).toBeNull();
    expect(parseCidr("::/0")).toMatchObject({ v6: true, bits: 0 });
    expect(parseCidr("2001:db8::/129")).toBeNull();
    expect(parseCidr("2001:db8::1/64")).toBeNull();
    expect(parseCidr("2001:db8::1")).toMatchObject({ bits: 128 });
    expect(parseCidr("1.2.3.0/024")).toBeNull();
  });

  it("matches within the family only; the edges of a range are in it", () => {
    const v4 = parseCidr("203.0.113.0/24")!;
    expect(inCidr(parseIp("203.0.113.0")!, v4)).toBe(true);
    expect(inCidr(parseIp("203.0.113.255")!, v4)).toBe(true);
    expect(inCidr(parseIp("203.0.114.0")!, v4)).toBe(false);
    expect(inCidr(parseIp("::ffff:203.0.113.9")!, v4)).toBe(true);
    const v6 = parseCidr("2001:db8::/32")!;
    expect(inCidr(parseIp("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")!, v6)).toBe(true);
    expect(inCidr(parseIp("2001:db9::")!, v6)).toBe(false);
    expect(inCidr(parseIp("203.0.113.1")!, v6)).toBe(false);
    expect(ipAllowed(null, [v4])).toBe(false);
    expect(ipAllowed("0.0.0.0", [parseCidr("0.0.0.0/0")!])).toBe(true);
  });
});

describe("IPv4-mapped IPv6 entries (issue 18, rule 9): folded to IPv4", () => {
  it("parse as the IPv4 range they are, and match a client in either spelling", () => {
    expect(parseCidr("::ffff:203.0.113.9")).toEqual(parseCidr("203.0.113.9"));
    expect(parseCidr("::ffff:198.51.100.0/120")).toEqual(parseCidr("198.51.100.0/24"));
    expect(parseCidr("::ffff:0:0/96")).toEqual(parseCidr("0.0.0.0/0"));
    expect(parseCidr("::ffff:c000:0201")).toEqual(parseCidr("192.0.2.1"));
    // Wider than the mapped block, or not mapped: IPv6, as given.
    expect(parseCidr("::/80")).toMatchObject({ v6: true, bits: 80 });
    expect(parseCidr("64:ff9b::192.0.2.1")).toMatchObject({ v6: true, bits: 128 });
    const range = [parseCidr("::ffff:198.51.100.0/120")!];
    expect(ipAllowed("198.51.100.77", range)).toBe(true);
    expect(ipAllowed("::ffff:198.51.100.77", range)).toBe(true);
    expect(ipAllowed("198.51.101.1", range)).toBe(false);
  });

  it("are stored in their IPv4 spelling; every other entry as given", () => {
    expect(canonicalCidr("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(canonicalCidr("::FFFF:203.0.113.9/128")).toBe("203.0.113.9/32");
    expect(canonicalCidr("::ffff:198.51.100.0/120")).toBe("198.51.100.0/24");
    expect(canonicalCidr("::ffff:c000:201")).toBe("192.0.2.1");
    for (const s of ["203.0.113.0/24", "2001:db8::/32", "::1", "::/80"]) expect(canonicalCidr(s), s).toBe(s);
    expect(canonicalCidr("::ffff:1.2.3.4/120")).toBeNull(); // host bits past the prefix
  });
});

describe("cidrWithin", () => {
  it("every address of the inner range in the outer one, same family only", () => {
    const c = (s: string) => parseCidr(s)!;
    expect(cidrWithin(c("203.0.113.8/29"), c("203.0.113.0/24"))).toBe(true);
    expect(cidrWithin(c("203.0.113.0/24"), c("203.0.113.0/24"))).toBe(true);
    expect(cidrWithin(c("203.0.113.9"), c("203.0.113.0/24"))).toBe(true);
    expect(cidrWithin(c("203.0.112.0/23"), c("203.0.113.0/24"))).toBe(false);
    expect(cidrWithin(c("203.0.114.0/24"), c("203.0.113.0/24"))).toBe(false);
    expect(cidrWithin(c("2001:db8:1::/48"), c("2001:db8::/32"))).toBe(true);
    expect(cidrWithin(c("2001:db9::/48"), c("2001:db8::/32"))).toBe(false);
    expect(cidrWithin(c("::ffff:203.0.113.9"), c("203.0.113.0/24"))).toBe(true);
    expect(cidrWithin(c("203.0.113.9"), c("::/0"))).toBe(false);
    expect(cidrWithin(c("1.2.3.4"), c("0.0.0.0/0"))).toBe(true);
  });
});
