/**
 * Keys imported by their old system's hash (src/keys/legacy.ts): the accepted forms, golden
 * digests (a change here would lock every pending key out), the legacy identity pinned, and
 * which digests already are keygate's own hash.
 */
import { describe, expect, it } from "vitest";
import { hashKey } from "../../../src/keys/hash";
import { isOwnScheme, legacyDigest, legacyIdentity, parseLegacyHash } from "../../../src/keys/legacy";

// SHA-256("test") and SHA-512("test"), as any old system computed them.
const SHA256_TEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const SHA512_TEST =
  "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff";

describe("parseLegacyHash", () => {
  it("reads hex (either case) and base64 or base64url (padded or not), normalized to lowercase hex", () => {
    const b64 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
    for (const form of [
      SHA256_TEST,
      SHA256_TEST.toUpperCase(),
      b64,
      b64.replace(/=$/, ""),
      b64.replace(/\+/g, "-").replace(/\//g, "_"),
    ])
      expect(parseLegacyHash(`sha256:${form}`), form).toEqual({ algorithm: "sha256", hex: SHA256_TEST });
    expect(parseLegacyHash(`SHA512:${SHA512_TEST}`)).toEqual({ algorithm: "sha512", hex: SHA512_TEST });
    expect(parseLegacyHash(`hmac-sha256:${SHA256_TEST}`)).toEqual({ algorithm: "hmac-sha256", hex: SHA256_TEST });
  });

  it("refuses anything else, saying what is expected", () => {
    for (const bad of [
      undefined,
      42,
      "",
      SHA256_TEST,
      "md5:abc",
      `sha256:${SHA256_TEST}00`,
      `sha512:${SHA256_TEST}`,
      "sha256:!!!",
      "sha256:",
    ])
      expect(typeof parseLegacyHash(bad), String(bad)).toBe("string");
    expect(parseLegacyHash("sha256:abcd")).toMatch(/32 bytes, as 64 hex characters or base64/);
  });
});

describe("a presented key's legacy digest and identity", () => {
  it("golden digests: SHA-256, SHA-512, HMAC-SHA-256 with the old pepper", async () => {
    expect(await legacyDigest("test", "sha256", undefined)).toBe(SHA256_TEST);
    expect(await legacyDigest("test", "sha512", undefined)).toBe(SHA512_TEST);
    // RFC 4231-style: HMAC-SHA-256(key "key", "The quick brown fox jumps over the lazy dog").
    expect(await legacyDigest("The quick brown fox jumps over the lazy dog", "hmac-sha256", "key")).toBe(
      "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    );
    expect(await legacyDigest("test", "hmac-sha256", undefined)).toBeNull();
  });

  it("the identity is keygate's hash of legacy:<algorithm>:<hex> (golden: a change would strand every pending key)", async () => {
    expect(await legacyIdentity("sha256", SHA256_TEST, undefined)).toBe(
      "2abbefff610f4307b07375eba4578674a4637a6b0062ecde979ed30a64f1c53b",
    );
    expect(await legacyIdentity("sha256", SHA256_TEST, "pepper-0123456789")).toBe(
      "adaa3c25b8670cd9974bbdce8422aee83d6b634369762c723c76b404bf7c7efd",
    );
  });

  it("a digest already keygate's own: SHA-256 without KEY_PEPPER; HMAC-SHA-256 with the same pepper", async () => {
    expect(isOwnScheme("sha256", {})).toBe(true);
    expect(isOwnScheme("sha256", { pepper: "p" })).toBe(false);
    expect(isOwnScheme("hmac-sha256", { pepper: "p", legacyPepper: "p" })).toBe(true);
    expect(isOwnScheme("hmac-sha256", { pepper: "p", legacyPepper: "q" })).toBe(false);
    expect(isOwnScheme("hmac-sha256", {})).toBe(false);
    expect(isOwnScheme("sha512", {})).toBe(false);
    // And then keygate's own hash of the key is that very digest.
    expect(await hashKey("test")).toBe(SHA256_TEST);
    expect(await hashKey("k", "p")).toBe(await legacyDigest("k", "hmac-sha256", "p"));
  });
});
