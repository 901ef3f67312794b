import { describe, expect, it } from "vitest";
import type { Config, CredentialSource, VarName, VarSpec } from "../../../src/config/config";
import {
  ConfigError,
  challengeFor,
  DEFAULTS,
  MIN_ADMIN_TOKEN_LENGTH,
  MIN_SESSION_SECRET_LENGTH,
  parseConfig,
  revocationBoundSeconds,
  settingsFrom,
  VARIABLES,
} from "../../../src/config/config";
import { base, problem } from "../../support/config-helpers";

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
      cache: {
        ttlMs: 30_000,
        negativeTtlMs: 10_000,
        maxEntries: 10_000,
        kvCacheTtlSeconds: 60,
        kvTimeoutMs: 5000,
        staleIfErrorMs: 300_000,
      },
    });
    expect(c.sources.map((s) => s.kind)).toEqual(["header", "bearer", "basic"]);
    expect(revocationBoundSeconds(c)).toBe(90);
  });

  it("keeps ORIGIN_URL's base path (without trailing slash)", () => {
    expect(parseConfig(base({ ORIGIN_URL: "http://10.0.0.1:8080/v1/" })).originBase).toBe("http://10.0.0.1:8080/v1");
  });

  it("takes a profile and lets each part be overridden on its own", () => {
    const c = parseConfig(
      base({
        AUTH_PROFILE: "operate",
        MISSING_KEY_STATUS: "401",
        ERROR_FORMAT: "argus",
        CREDENTIAL_SOURCES: "x-token, bearer",
        ORG_SOURCE: "header",
      }),
    );
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

describe("the declaration drives parsing, defaults and bounds (src/config/variables.ts)", () => {
  const names = Object.keys(VARIABLES) as VarName[];
  const ofKind = (kind: VarSpec["kind"]) => names.filter((n) => (VARIABLES[n] as VarSpec).kind === kind);
  const DAY_MS = 86_400_000;

  /** Where each whole-number variable lands in Config, and a value valid with the other defaults. */
  const INT_FIELDS: Record<string, [value: number, read: (c: Config) => number]> = {
    UPSTREAM_TIMEOUT_MS: [1234, (c) => c.upstreamTimeoutMs],
    UPSTREAM_IDLE_TIMEOUT_MS: [0, (c) => c.upstreamIdleTimeoutMs],
    CACHE_TTL_MS: [3_600_000, (c) => c.cache.ttlMs],
    NEGATIVE_CACHE_TTL_MS: [0, (c) => c.cache.negativeTtlMs],
    CACHE_MAX_ENTRIES: [1_000_000, (c) => c.cache.maxEntries],
    KV_CACHE_TTL_SECONDS: [30, (c) => c.cache.kvCacheTtlSeconds],
    KV_TIMEOUT_MS: [60_000, (c) => c.cache.kvTimeoutMs],
    STALE_IF_ERROR_MS: [DAY_MS, (c) => c.cache.staleIfErrorMs],
    LAST_USED_INTERVAL_MS: [0, (c) => c.lastUsedIntervalMs],
    LAST_USED_MAX_WRITES_PER_SECOND: [50, (c) => c.lastUsedMaxWritesPerSecond],
    EXPIRY_WARNING_DAYS: [3650, (c) => c.expiryWarningMs / DAY_MS],
    AUTH_FAILURE_BLOCK_SECONDS: [86_400, (c) => c.authFailureBlockSeconds],
    REVOCATION_POLL_MS: [100, (c) => c.revocation.pollMs],
    REVOCATION_MAX_STALENESS_MS: [3_600_000, (c) => c.revocation.maxStalenessMs],
    USAGE_FLUSH_MS: [20_000, (c) => c.usageFlushMs],
    WEBHOOK_EXPIRY_NOTICE_DAYS: [365, (c) => c.webhooks.expiryNoticeMs / DAY_MS],
    CREDITS_LOW_PERCENT: [0, (c) => c.webhooks.creditsLowPercent],
    SELF_SERVICE_MAX_KEYS_PER_ORG: [10_000, (c) => c.holders.maxKeysPerOrg],
    SELF_SERVICE_CREATE_PER_MINUTE: [1, (c) => c.holders.createPerMinute],
  };

  it("every whole number: its default when unset or blank, a valid value taken, its declared bounds enforced", () => {
    expect(Object.keys(INT_FIELDS).sort()).toEqual(ofKind("int").sort());
    const defaults = parseConfig(base());
    for (const name of ofKind("int")) {
      const spec = VARIABLES[name] as VarSpec;
      const [value, read] = INT_FIELDS[name]!;
      expect(read(defaults), name).toBe(spec.default);
      expect(read(parseConfig(base({ [name]: "  " }))), name).toBe(spec.default);
      expect(read(parseConfig(base({ [name]: String(value) }))), name).toBe(value);
      expect(read(parseConfig(base({ [name]: value }))), `${name} as a number`).toBe(value);
      for (const bad of [spec.max! + 1, ...(spec.min! > 0 ? [spec.min! - 1] : [])]) {
        const err = problem({ [name]: String(bad) });
        expect(err.variable, `${name}=${bad}`).toBe(name);
        expect(err.message).toContain(`must be between ${spec.min} and ${spec.max}, got ${bad}`);
      }
      expect(problem({ [name]: "-1" }).message, name).toContain("whole number");
    }
  });

  it("every enum: each declared value accepted in any case, anything else refused listing them", () => {
    for (const name of ofKind("enum")) {
      const spec = VARIABLES[name] as VarSpec;
      for (const v of spec.values!)
        expect(() => parseConfig(base({ [name]: v.toUpperCase() })), `${name}=${v}`).not.toThrow();
      const err = problem({ [name]: "nope" });
      expect(err.variable).toBe(name);
      expect(err.message).toBe(`${name}: must be one of ${spec.values!.join(", ")}; got "nope"`);
    }
  });

  it("every declared default is what parseConfig applies, and DEFAULTS is the declaration's", () => {
    const c = parseConfig(base());
    expect(DEFAULTS).toEqual(
      Object.fromEntries(
        names.flatMap((n) =>
          (VARIABLES[n] as VarSpec).default === undefined ? [] : [[n, (VARIABLES[n] as VarSpec).default]],
        ),
      ),
    );
    expect([c.headers.org, c.headers.keyId, c.headers.scopes]).toEqual([
      DEFAULTS.ORG_HEADER,
      DEFAULTS.KEY_ID_HEADER,
      DEFAULTS.SCOPES_HEADER,
    ]);
    expect([c.profile, c.realm, c.keyPrefix, c.admin.prefix, c.preflight]).toEqual([
      DEFAULTS.AUTH_PROFILE,
      DEFAULTS.AUTH_REALM,
      DEFAULTS.KEY_PREFIX,
      DEFAULTS.ADMIN_PREFIX,
      DEFAULTS.CORS_PREFLIGHT,
    ]);
    expect(c.routes).toEqual(JSON.parse(DEFAULTS.ROUTES));
    const withSessions = parseConfig(base({ SESSION_JWT_SECRET: "s".repeat(MIN_SESSION_SECRET_LENGTH) })).session!;
    expect([withSessions.orgClaim.join("."), withSessions.scopesClaim.join(".")]).toEqual([
      DEFAULTS.SESSION_ORG_CLAIM,
      DEFAULTS.SESSION_SCOPES_CLAIM,
    ]);
  });

  it("a secret's value never appears in its error, whatever the secret", () => {
    const marker = "S3cr3tMarker";
    for (const name of names.filter((n) => (VARIABLES[n] as VarSpec).secret)) {
      const spec = VARIABLES[name] as VarSpec;
      expect(spec.kind, name).toBe("secret");
      // A secret any short value fits (LEGACY_HASH_PEPPER: the old system's, as it was) is refused past its maximum.
      const tooShort = spec.min !== undefined && marker.length < spec.min;
      const value = tooShort || spec.max === undefined ? marker : marker.padEnd(spec.max + 1, marker);
      const err = problem({ [name]: value });
      expect(err.variable).toBe(name);
      expect(err.message, name).not.toContain(marker);
    }
    // ADMIN_TOKEN long enough but not usable after "Bearer ": refused by its declared pattern.
    expect(problem({ ADMIN_TOKEN: `${"a".repeat(MIN_ADMIN_TOKEN_LENGTH)} ${marker}` }).message).not.toContain(marker);
  });

  it("a value of the wrong type fails closed, naming the variable", () => {
    for (const name of ["AUTH_PROFILE", "KEY_PREFIX", "ORG_HEADER", "ADMIN_TOKEN", "KEY_PEPPER", "SELF_SERVICE_PATH"]) {
      expect(problem({ [name]: { not: "a string" } }).variable, name).toBe(name);
    }
  });
});

describe("the leak intake's settings (docs/leaked-keys.md)", () => {
  const ADMIN = "admin-token-0123456789abcdef0123456789abcdef";

  it("defaults: revoke, GitHub's published keys, no LEAK_REPORT_TOKEN", () => {
    expect(parseConfig(base()).leaks).toEqual({
      action: "revoke",
      githubKeysUrl: "https://api.github.com/meta/public_keys/secret_scanning",
      reportToken: null,
    });
  });

  it("takes each value as given", () => {
    const c = parseConfig(
      base({
        LEAKED_KEY_ACTION: "Disable",
        GITHUB_SECRET_SCANNING_KEYS_URL: "http://127.0.0.1:9/keys",
        LEAK_REPORT_TOKEN: "leak-token-0123456789abcdef0123456789",
      }),
    );
    expect(c.leaks).toEqual({
      action: "disable",
      githubKeysUrl: "http://127.0.0.1:9/keys",
      reportToken: "leak-token-0123456789abcdef0123456789",
    });
  });

  it("refuses what would not be safe or would not work", () => {
    expect(problem({ LEAKED_KEY_ACTION: "delete" }).variable).toBe("LEAKED_KEY_ACTION");
    expect(problem({ GITHUB_SECRET_SCANNING_KEYS_URL: "http://keys.example.com/k" }).message).toMatch(/https/);
    expect(problem({ GITHUB_SECRET_SCANNING_KEYS_URL: "not a url" }).variable).toBe("GITHUB_SECRET_SCANNING_KEYS_URL");
    expect(problem({ LEAK_REPORT_TOKEN: "short" }).variable).toBe("LEAK_REPORT_TOKEN");
    const same = problem({ ADMIN_TOKEN: ADMIN, LEAK_REPORT_TOKEN: ADMIN });
    expect(same.variable).toBe("LEAK_REPORT_TOKEN");
    expect(same.message).not.toContain(ADMIN); // a secret never appears in an error
  });
});

describe("settingsFrom: the CLI's and npm run dev's settings, read as the gateway reads them", () => {
  it("KEY_PREFIX (trimmed, default kg_), KEY_PEPPER (verbatim, when set) and ADMIN_PREFIX, as parseConfig has them", () => {
    expect(settingsFrom({})).toEqual({ key: { prefix: "kg_" }, adminPrefix: "/_keygate" });
    const vars = { KEY_PREFIX: " acme_ ", KEY_PEPPER: " pepper-of-16-chars ", ADMIN_PREFIX: "/ops/admin/" };
    const s = settingsFrom(vars);
    expect(s).toEqual({ key: { prefix: "acme_", pepper: " pepper-of-16-chars " }, adminPrefix: "/ops/admin" });
    const c = parseConfig(base(vars));
    expect([c.keyPrefix, c.pepper, c.admin.prefix]).toEqual([s.key.prefix, s.key.pepper, s.adminPrefix]);
    expect(settingsFrom({ KEY_PREFIX: "", KEY_PEPPER: "" })).toEqual({
      key: { prefix: "kg_" },
      adminPrefix: "/_keygate",
    });
  });

  it.each([
    [{ KEY_PREFIX: "kg prefix" }, "KEY_PREFIX"],
    [{ KEY_PREFIX: "x".repeat(17) }, "KEY_PREFIX"],
    [{ KEY_PEPPER: "short" }, "KEY_PEPPER"],
    [{ ADMIN_PREFIX: "/a/../b" }, "ADMIN_PREFIX"],
  ])("refuses %j naming %s, as the gateway does", (vars, variable) => {
    let err: unknown;
    try {
      settingsFrom(vars);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect(problem(vars).message).toBe((err as ConfigError).message);
  });
});

/** The challenge a 401 carries, built once from the sources and realm (it moved here from edge/auth/credentials.ts). */
describe("challengeFor", () => {
  const ALL: CredentialSource[] = [{ kind: "header", name: "x-api-key" }, { kind: "bearer" }, { kind: "basic" }];
  it("lists one challenge per accepted source, in order (RFC 9110 §11.6.1)", () => {
    expect(challengeFor(ALL, "api")).toBe(
      'ApiKey realm="api", header="x-api-key", Bearer realm="api", Basic realm="api", charset="UTF-8"',
    );
  });
});
