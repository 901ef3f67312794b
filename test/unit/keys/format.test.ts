import { describe, expect, it } from "vitest";
import {
  checksumOf,
  classifyKey,
  crc32,
  displayStart,
  isWellFormedKey,
  MAX_KEY_LENGTH,
  mintKey,
  randomBase62,
} from "../../../src/keys/format";

describe("crc32 (golden vectors: a change here locks every minted key out)", () => {
  it("matches the CRC-32/ISO-HDLC check values", () => {
    expect(crc32("")).toBe(0);
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("The quick brown fox jumps over the lazy dog")).toBe(0x414fa339);
  });

  it("renders a fixed 6-character base62 checksum", () => {
    expect(checksumOf("123456789")).toBe("3jZRME");
    expect(checksumOf("")).toBe("000000");
    expect(checksumOf("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toMatch(/^[0-9A-Za-z]{6}$/);
  });
});

describe("minted keys", () => {
  it("are prefix + 32 base62 + 6 checksum characters and classify as minted", () => {
    const key = mintKey("kg_");
    expect(key).toMatch(/^kg_[0-9A-Za-z]{38}$/);
    expect(classifyKey(key, "kg_")).toBe("minted");
    expect(key.slice(-6)).toBe(checksumOf(key.slice(3, 35)));
  });

  it("are unique and uniformly drawn from all 62 characters", () => {
    const sample = randomBase62(62 * 400);
    const counts = new Map<string, number>();
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(250); // expected 400 each
    expect(new Set(Array.from({ length: 1000 }, () => mintKey("kg_"))).size).toBe(1000);
  });

  it("a key with our prefix and any single-character change is corrupt (refused without lookup)", () => {
    const key = mintKey("kg_");
    for (let i = 3; i < key.length; i++) {
      const replacement = key[i] === "a" ? "b" : "a";
      expect(classifyKey(key.slice(0, i) + replacement + key.slice(i + 1), "kg_")).toBe("corrupt");
    }
    expect(classifyKey(key + "x", "kg_")).toBe("corrupt");
    expect(classifyKey(key.slice(0, -1), "kg_")).toBe("corrupt");
    expect(classifyKey("kg_", "kg_")).toBe("corrupt");
  });

  it("keys of other formats are foreign (looked up): imported keys keep working", () => {
    expect(classifyKey("123e4567-e89b-12d3-a456-426614174000", "kg_")).toBe("foreign");
    expect(classifyKey("argus_abc123", "kg_")).toBe("foreign");
    expect(classifyKey(mintKey("kg_"), "")).toBe("foreign");
  });
});

describe("well-formed keys and display", () => {
  it("accepts printable ASCII without space, comma or colon, up to the limit", () => {
    expect(isWellFormedKey("a".repeat(MAX_KEY_LENGTH))).toBe(true);
    expect(isWellFormedKey("a".repeat(MAX_KEY_LENGTH + 1))).toBe(false);
    for (const bad of ["", "a b", "a,b", "a:b", "a\tb", "é", "a\u0000"]) expect(isWellFormedKey(bad)).toBe(false);
  });

  it("shows the prefix and 4 characters, never more than half a short key", () => {
    expect(displayStart("kg_AbCdEfGh", "kg_")).toBe("kg_Ab"); // 11 chars: at most 5 shown, not 7
    expect(displayStart(mintKey("kg_"), "kg_")).toMatch(/^kg_[0-9A-Za-z]{4}$/);
    expect(displayStart("123e4567-e89b", "kg_")).toBe("123e");
  });
});
