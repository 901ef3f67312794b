import { describe, expect, it } from "vitest";
import { challengeFor, extractCredential, isOurAuthorization } from "../../../src/auth/credentials";
import type { CredentialSource } from "../../../src/config";

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

describe("challengeFor", () => {
  it("lists one challenge per accepted source, in order (RFC 9110 §11.6.1)", () => {
    expect(challengeFor(ALL, "api")).toBe('ApiKey realm="api", header="x-api-key", Bearer realm="api", Basic realm="api", charset="UTF-8"');
  });
});
