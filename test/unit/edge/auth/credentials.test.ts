import { describe, expect, it } from "vitest";
import type { CredentialSource } from "../../../../src/config/config";
import { extractCredential, isOurAuthorization } from "../../../../src/edge/auth/credentials";

const ALL: CredentialSource[] = [{ kind: "header", name: "x-api-key" }, { kind: "bearer" }, { kind: "basic" }];
const HEADER_ONLY: CredentialSource[] = [{ kind: "header", name: "x-api-key" }];
const b64 = (s: string) => btoa(s);
const extract = (h: Record<string, string>, sources = ALL) => extractCredential(new Headers(h), sources);

describe("extractCredential", () => {
  it.each([
    [{}, "missing"],
    [{ authorization: "Digest username=x" }, "missing"],
  ])("%j → %s", (headers, kind) => {
    expect(extract(headers).kind).toBe(kind);
  });

  it.each([
    [{ "x-api-key": "k1" }, "header"],
    [{ "X-API-KEY": "k1" }, "header"],
    [{ authorization: "Bearer k1" }, "bearer"],
    [{ authorization: "bearer   k1" }, "bearer"],
    [{ authorization: `Basic ${b64("k1:")}` }, "basic"],
    [{ authorization: `basic ${b64("k1:")}` }, "basic"],
    [{ "x-api-key": "k1", authorization: "Bearer k1" }, "header"],
    [{ "x-api-key": "k1, k1" }, "header"],
  ])("%j → present via %s", (headers, via) => {
    const r = extract(headers);
    expect(r).toEqual({ kind: "present", key: "k1", via });
  });

  it.each([
    [{ "x-api-key": "" }, "empty x-api-key header"],
    [{ "x-api-key": "   " }, "empty x-api-key header"],
    [{ authorization: "" }, "empty Authorization header"],
    [{ authorization: "Bearer" }, "empty bearer token"],
    [{ authorization: "Bearer   " }, "empty bearer token"],
    [{ authorization: "Bearer a b" }, "malformed bearer token"],
    [{ authorization: "Bearer k1\u0001" }, "malformed bearer token"],
    [{ authorization: "Basic !!!" }, "malformed Basic"],
    [{ authorization: "Basic" }, "malformed Basic"],
    [{ authorization: `Basic ${b64("nocolon")}` }, "without a colon"],
    [{ authorization: `Basic ${b64(":")}` }, "empty username"],
    [{ authorization: `Basic ${b64("k1:secret")}` }, "empty password"],
    [{ "x-api-key": "k1", authorization: "Bearer k2" }, "two different API keys"],
    [{ "x-api-key": "k1, k2" }, "two different API keys"],
    [{ "x-api-key": "k1, " }, "empty value in repeated"],
    [{ "x-api-key": "a b" }, "outside printable ASCII"],
    [{ "x-api-key": "a:b" }, "outside printable ASCII"],
    [{ "x-api-key": "k".repeat(513) }, "longer than 512"],
    [{ "x-api-key": "k".repeat(5000) }, "too long"],
    [{ authorization: `Bearer ${"k".repeat(513)}` }, "longer than 512"],
  ])("%j → malformed (%s)", (headers, reason) => {
    const r = extract(headers);
    expect(r.kind).toBe("malformed");
    if (r.kind === "malformed") expect(r.reason).toContain(reason);
  });

  it("a key of exactly 512 characters is accepted", () => {
    expect(extract({ "x-api-key": "k".repeat(512) }).kind).toBe("present");
  });

  it("ignores Authorization entirely when the profile accepts neither Bearer nor Basic", () => {
    expect(extract({ authorization: "Bearer k1" }, HEADER_ONLY).kind).toBe("missing");
    expect(extract({ authorization: "Bearer" }, HEADER_ONLY).kind).toBe("missing");
    expect(extract({ authorization: "" }, HEADER_ONLY).kind).toBe("missing");
  });

  it("only the profile's schemes count as ours (others pass to the origin)", () => {
    expect(isOurAuthorization("Bearer x", ALL)).toBe(true);
    expect(isOurAuthorization("basic x", ALL)).toBe(true);
    expect(isOurAuthorization("Bearer x", HEADER_ONLY)).toBe(false);
    expect(isOurAuthorization("Digest x", ALL)).toBe(false);
  });
});

describe("extractCredential: edges (each found by mutation testing)", () => {
  const BEARER_ONLY: CredentialSource[] = [{ kind: "header", name: "x-api-key" }, { kind: "bearer" }];
  const BASIC_ONLY: CredentialSource[] = [{ kind: "basic" }];

  it("an Authorization value that is no scheme at all is malformed where Authorization is read", () => {
    for (const v of ["1abc", "1Bearer k1", "=x", "Bearer\u0001 k1"]) {
      expect(extract({ authorization: v }), v).toEqual({ kind: "malformed", reason: "malformed Authorization header" });
      expect(extract({ authorization: v }, BEARER_ONLY), v).toEqual({
        kind: "malformed",
        reason: "malformed Authorization header",
      });
      expect(extract({ authorization: v }, BASIC_ONLY), v).toEqual({
        kind: "malformed",
        reason: "malformed Authorization header",
      });
    }
  });

  it("a profile reads only its own schemes: Basic is ignored by a Bearer-only one, Bearer by a Basic-only one", () => {
    expect(extract({ authorization: "Bearer k1" }, BEARER_ONLY)).toEqual({ kind: "present", key: "k1", via: "bearer" });
    expect(extract({ authorization: `Basic ${b64("k1:")}` }, BEARER_ONLY)).toEqual({ kind: "missing" });
    expect(extract({ authorization: `Basic ${b64("k1:")}` }, HEADER_ONLY)).toEqual({ kind: "missing" });
    expect(extract({ authorization: `Basic ${b64("k1:")}` }, BASIC_ONLY)).toEqual({
      kind: "present",
      key: "k1",
      via: "basic",
    });
    expect(extract({ authorization: "Bearer k1" }, BASIC_ONLY)).toEqual({ kind: "missing" });
    // Only header sources are read as headers (a header literally named after another kind is not).
    expect(extract({ bearer: "k2", undefined: "k3", authorization: "Bearer k1" }, BEARER_ONLY)).toEqual({
      kind: "present",
      key: "k1",
      via: "bearer",
    });
  });

  it("Basic: every padding length decodes; unpadded or mis-padded base64 is malformed", () => {
    for (const key of ["k", "kk", "kkk", "k1", "kg_abc"]) {
      expect(extract({ authorization: `Basic ${b64(`${key}:`)}` }), key).toEqual({
        kind: "present",
        key,
        via: "basic",
      });
    }
    for (const v of ["azo", "a2s", "azo==", "a=zo", "!azo=", "azo=!", "YWJj ZA=="]) {
      expect(extract({ authorization: `Basic ${v}` }), v).toEqual({
        kind: "malformed",
        reason: "malformed Basic credentials",
      });
    }
  });

  it("Basic: a username that is not a well-formed key is malformed, with the key check's reason", () => {
    expect(extract({ authorization: `Basic ${b64("a b:")}` })).toEqual({
      kind: "malformed",
      reason: "API key contains characters outside printable ASCII (or a space, comma or colon)",
    });
    expect(extract({ authorization: `Basic ${b64(`${"k".repeat(513)}:`)}` })).toEqual({
      kind: "malformed",
      reason: "API key longer than 512 characters",
    });
  });

  it("header length bound: 1056 characters is read (and judged as a key), 1057 is refused unread", () => {
    expect(extract({ "x-api-key": "k".repeat(1056) })).toEqual({
      kind: "malformed",
      reason: "API key longer than 512 characters",
    });
    expect(extract({ "x-api-key": "k".repeat(1057) })).toEqual({
      kind: "malformed",
      reason: "x-api-key header too long",
    });
    expect(extract({ authorization: `Bearer ${"k".repeat(1049)}` })).toEqual({
      kind: "malformed",
      reason: "API key longer than 512 characters",
    });
    expect(extract({ authorization: `Bearer ${"k".repeat(1050)}` })).toEqual({
      kind: "malformed",
      reason: "Authorization header too long",
    });
  });
});
