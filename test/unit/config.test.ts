import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, revocationBoundSeconds } from "../../src/config";
import type { Env } from "../../src/config";

const base = (vars: Record<string, unknown> = {}): Env => ({ KEYS: env.KEYS, ORIGIN_URL: "https://api.example.com", ...vars }) as Env;

function problem(vars: Record<string, unknown>): ConfigError {
  try {
    parseConfig(base(vars));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(vars)} to be refused`);
}

describe("parseConfig", () => {
  it("applies the defaults of the default profile", () => {
    const c = parseConfig(base());
    expect(c).toMatchObject({
      profile: "default",
      originBase: "https://api.example.com",
      missingStatus: 401,
      errorFormat: "problem",
      orgSource: "key",
      keyPrefix: "kg_",
      upstreamTimeoutMs: 30_000,
      headers: { org: "x-org-slug", keyId: "x-api-key-id", scopes: "x-api-key-scopes" },
      preflight: "forward",
      cache: { ttlMs: 30_000, negativeTtlMs: 10_000, maxEntries: 10_000, kvCacheTtlSeconds: 60, kvTimeoutMs: 5000, staleIfErrorMs: 300_000 },
    });
    expect(c.sources.map((s) => s.kind)).toEqual(["header", "bearer", "basic"]);
    expect(revocationBoundSeconds(c)).toBe(90);
  });

  it("keeps ORIGIN_URL's base path (without trailing slash)", () => {
    expect(parseConfig(base({ ORIGIN_URL: "http://10.0.0.1:8080/v1/" })).originBase).toBe("http://10.0.0.1:8080/v1");
  });

  it("takes a profile and lets each part be overridden on its own", () => {
    const c = parseConfig(base({ AUTH_PROFILE: "operate", MISSING_KEY_STATUS: "401", ERROR_FORMAT: "argus", CREDENTIAL_SOURCES: "x-token, bearer", ORG_SOURCE: "header" }));
    expect(c.profile).toBe("operate");
    expect(c.missingStatus).toBe(401);
    expect(c.errorFormat).toBe("argus");
    expect(c.orgSource).toBe("header");
    expect(c.sources).toEqual([{ kind: "header", name: "x-token" }, { kind: "bearer" }]);
    expect(c.challenge).toBe('ApiKey realm="api", header="x-token", Bearer realm="api"');
  });

  it("accepts numbers and ROUTES as JSON values (wrangler.toml non-string vars)", () => {
    const c = parseConfig(base({ UPSTREAM_TIMEOUT_MS: 1500, ROUTES: [{ path: "/health", auth: "public" }] }));
    expect(c.upstreamTimeoutMs).toBe(1500);
    expect(c.routes[0]!.auth).toBe("public");
  });

  it.each([
    [{ ORIGIN_URL: undefined }, "ORIGIN_URL", "is required"],
    [{ ORIGIN_URL: "not a url" }, "ORIGIN_URL", "not an absolute URL"],
    [{ ORIGIN_URL: "ftp://x" }, "ORIGIN_URL", "http"],
    [{ ORIGIN_URL: "https://u:p@x" }, "ORIGIN_URL", "credentials"],
    [{ ORIGIN_URL: "https://x/?a=1" }, "ORIGIN_URL", "query"],
    [{ AUTH_PROFILE: "stripe" }, "AUTH_PROFILE", "must be one of"],
    [{ MISSING_KEY_STATUS: "403" }, "MISSING_KEY_STATUS", "must be one of"],
    [{ ERROR_FORMAT: "xml" }, "ERROR_FORMAT", "must be one of"],
    [{ ORG_SOURCE: "query" }, "ORG_SOURCE", "must be one of"],
    [{ CREDENTIAL_SOURCES: "bearer,bearer" }, "CREDENTIAL_SOURCES", "twice"],
    [{ CREDENTIAL_SOURCES: "authorization" }, "CREDENTIAL_SOURCES", "neither"],
    [{ CREDENTIAL_SOURCES: "x-org-slug" }, "CREDENTIAL_SOURCES", "injected header"],
    [{ ROUTES: "[{" }, "ROUTES", "not valid JSON"],
    [{ ROUTES: '[{"path":"/a","scope":["x"]}]' }, "ROUTES", 'unknown field "scope"'],
    [{ KEY_PREFIX: "kg prefix" }, "KEY_PREFIX", "at most 16"],
    [{ UPSTREAM_TIMEOUT_MS: "30s" }, "UPSTREAM_TIMEOUT_MS", "whole number"],
    [{ UPSTREAM_TIMEOUT_MS: "0" }, "UPSTREAM_TIMEOUT_MS", "between"],
    [{ KV_CACHE_TTL_SECONDS: "10" }, "KV_CACHE_TTL_SECONDS", "between 30"],
    [{ ORG_HEADER: "x org" }, "ORG_HEADER", "not a valid header name"],
    [{ CORS_PREFLIGHT: "skip" }, "CORS_PREFLIGHT", "must be one of"],
    [{ AUTH_REALM: 'a"b' }, "AUTH_REALM", "quotes"],
    [{ KEY_PEPPER: "short" }, "KEY_PEPPER", "at least 16"],
    [{ KEYS: undefined }, "KEYS", "binding is missing"],
  ])("refuses %j naming %s", (vars, variable, message) => {
    const err = problem(vars);
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(message);
  });
});
