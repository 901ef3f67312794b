/**
 * Environment → one validated, typed Config. Parsed once per env object (per isolate in
 * production). A bad value never half-works: the gateway answers every request 500 and
 * logs which variable is wrong (fail closed, nothing proxied).
 *
 * Each variable's kind, default and bounds are declared once, in config/variables.ts; the
 * readers there apply them. This module adds what spans variables (profile presets,
 * reserved header names, sessions on/off, the revocation feed's timing) and shapes Config.
 * The bindings' type, Env, is src/env.ts.
 */

import type { SigningSecret } from "../../verifier/index.js";
import { parseSigningSecrets } from "../../verifier/index.js";
import { parseForwardClientHeaders } from "../edge/proxy/client-claims";
import type { Route } from "../edge/routes/table";
import { parseRoutes } from "../edge/routes/table";
import type { Env } from "../env";
import type { ErrorFormat, OrgSource, ProfileName } from "./profiles";
import { PROFILES } from "./profiles";
import type { SelfServiceConfig } from "./self-service";
import { parseSelfService } from "./self-service";
import type { LeakAction, VarSpec } from "./variables";
import {
  ConfigError,
  DEFAULTS,
  enumVar,
  HEADER_NAME_RE,
  headerVar,
  intVar,
  raw,
  secretVar,
  sessionClaimsFrom,
  settingsFrom,
  stringVar,
  VARIABLES,
} from "./variables";

export type { VarKind, VarName, VarSpec } from "./variables";
export {
  ConfigError,
  DEFAULTS,
  MIN_ADMIN_TOKEN_LENGTH,
  MIN_SESSION_SECRET_LENGTH,
  settingsFrom,
  VARIABLES,
} from "./variables";

export type CredentialSource = { kind: "header"; name: string } | { kind: "bearer" } | { kind: "basic" };

/** The WWW-Authenticate challenge(s) for the accepted sources, in their order. */
export function challengeFor(sources: readonly CredentialSource[], realm: string): string {
  return sources
    .map((s) => {
      if (s.kind === "basic") return `Basic realm="${realm}", charset="UTF-8"`; // RFC 7617 §2
      if (s.kind === "bearer") return `Bearer realm="${realm}"`; // RFC 6750 §3
      return `ApiKey realm="${realm}", header="${s.name}"`;
    })
    .join(", ");
}

/** Everything sessions need, from the SESSION_* variables (config/config.ts). */
export interface SessionSettings {
  /** SESSION_JWT_SECRET: HS256 key; null = HS256 sessions refused. */
  secret: string | null;
  /** SESSION_JWKS_URL: RS256/ES256 keys; null = asymmetric sessions refused. */
  jwksUrl: string | null;
  /** SESSION_ISSUER: `iss` must equal it (null = not checked). */
  issuer: string | null;
  /** SESSION_AUDIENCE: `aud` must contain it (null = not checked). */
  audience: string | null;
  /** SESSION_COOKIE: the cookie carrying the token (null = Bearer only). */
  cookie: string | null;
  /** SESSION_ORG_CLAIM split on ".". */
  orgClaim: readonly string[];
  /** SESSION_SCOPES_CLAIM split on ".". */
  scopesClaim: readonly string[];
}

/** The revocation feed's polling (edge/revocation/follower.ts), from REVOCATION_* and KV_CACHE_TTL_SECONDS. */
export interface FeedSettings {
  pollMs: number;
  maxStalenessMs: number;
  /** How long a published record overrides older KV reads of its hash. */
  windowMs: number;
  timeoutMs: number;
}

export interface Config {
  profile: ProfileName;
  /** ORIGIN_URL as scheme://host[:port][/base-path], without a trailing slash. */
  originBase: string;
  sources: CredentialSource[];
  missingStatus: 400 | 401;
  errorFormat: ErrorFormat;
  orgSource: OrgSource;
  realm: string;
  /** WWW-Authenticate value for 401 answers, derived from sources and realm. */
  challenge: string;
  routes: Route[];
  keyPrefix: string;
  upstreamTimeoutMs: number;
  /** Longest wait for the next chunk of the origin's response body (0 = unbounded). */
  upstreamIdleTimeoutMs: number;
  cache: {
    ttlMs: number;
    negativeTtlMs: number;
    staleIfErrorMs: number;
    maxEntries: number;
    kvCacheTtlSeconds: number;
    kvTimeoutMs: number;
  };
  /** Injected identity headers; userId and method are fixed (x-user-id, x-auth-method). */
  headers: { org: string; keyId: string; scopes: string; userId: string; method: string };
  /** "forward": CORS preflights pass without a key; "auth": they need one like any request. */
  preflight: "forward" | "auth";
  /** FORWARD_CLIENT_HEADERS: client claims (lowercase names) forwarded in exactly that spelling. */
  forwardClientHeaders: ReadonlySet<string>;
  pepper?: string;
  admin: {
    /** Normalized, without a trailing slash ("/_keygate"). Reserved even when the API is off. */
    prefix: string;
    /** Lowercased segments of `prefix`, matched against a request's matchSegments(). */
    segments: string[];
    /** ADMIN_TOKEN; null = the admin API is off (its prefix answers the profile's 404). */
    token: string | null;
  };
  /**
   * CONSOLE_HOST, lowercased: the web console answers only on this host, at its root, and
   * nothing else does there; null = the console is under `{ADMIN_PREFIX}/ui` on every host.
   */
  consoleHost: string | null;
  /** At most one last-used write per key per this interval per isolate; 0 = not tracked. */
  lastUsedIntervalMs: number;
  /** Last-used writes per second per isolate (edge/auth/last-used.ts). */
  lastUsedMaxWritesPerSecond: number;
  /** Deprecation/Sunset headers start this long before a key's expiry; 0 = only during a rotation grace. */
  expiryWarningMs: number;
  /** Signs forwarded requests (ORIGIN_SIGNING_SECRET's first pair); absent = unsigned. */
  signer?: SigningSecret;
  /** How long an IP over its failed-authentication budget is refused in this isolate. */
  authFailureBlockSeconds: number;
  /** Session JWT verification (SESSION_*); null = sessions off. */
  session: SessionSettings | null;
  /** SESSION_PASSTHROUGH_COOKIE: forwarded without identity when no credential is sent; null = off. */
  passthroughCookie: string | null;
  /** SELF_SERVICE_PATH/SELF_SERVICE_SCOPE (config/self-service.ts); null = off. */
  selfService: SelfServiceConfig | null;
  /**
   * Bounds on keys created by holders, on every surface (manage/bounds.ts):
   * SELF_SERVICE_MAX_KEYS_PER_ORG and SELF_SERVICE_CREATE_PER_MINUTE.
   */
  holders: { maxKeysPerOrg: number; createPerMinute: number };
  /** The revocation feed's polling (edge/revocation/follower.ts). */
  revocation: FeedSettings;
  /** Usage counts are flushed from an isolate at most this often (docs/usage.md). */
  usageFlushMs: number;
  /**
   * ENFORCEMENT (docs/migrating.md): "report" decides every request as "enforce" would but
   * forwards it with its verdict and never refuses (a route's own `enforcement` wins).
   */
  enforcement: "enforce" | "report";
  /** LEGACY_HASH_PEPPER: the old system's pepper, for keys imported as hmac-sha256 hashes. */
  legacyPepper?: string;
  /** Webhooks (docs/webhooks.md): WEBHOOK_EXPIRY_NOTICE_DAYS, CREDITS_LOW_PERCENT, WEBHOOK_ALLOW_LOOPBACK. */
  webhooks: { expiryNoticeMs: number; creditsLowPercent: number; allowLoopback: boolean };
  /** The leak intake (docs/leaked-keys.md): LEAKED_KEY_ACTION, GITHUB_SECRET_SCANNING_KEYS_URL, LEAK_REPORT_TOKEN. */
  leaks: LeakSettings;
}

/** The leak intake's settings (manage/leak-intake/). */
export interface LeakSettings {
  /** What a valid report does to a live key. */
  action: LeakAction;
  /** Where GitHub's secret scanning keys are fetched. */
  githubKeysUrl: string;
  /** LEAK_REPORT_TOKEN; null = the GitLab endpoints are off and POST /leaks takes admin tokens only. */
  reportToken: string | null;
}

/** A feed poll's wait for the object; past it the poll has failed. */
export const REVOCATION_TIMEOUT_MS = 1_000;
/** Allowance for KV's propagation (≈ 60 s "or more") on top of the edge cacheTtl, for feed overrides. */
export const KV_PROPAGATION_ALLOWANCE_MS = 300_000;
/** KV allows one write per second per key: a shorter interval could exceed it. */
const MIN_LAST_USED_INTERVAL_MS = 1_000;
const DAY_MS = 86_400_000;

function parseSources(raw: string[], variable: string): CredentialSource[] {
  if (raw.length === 0) throw new ConfigError(variable, "needs at least one source");
  const seen = new Set<string>();
  return raw.map((s) => {
    const v = s.trim().toLowerCase();
    if (seen.has(v)) throw new ConfigError(variable, `"${v}" is listed twice`);
    seen.add(v);
    if (v === "bearer") return { kind: "bearer" };
    if (v === "basic") return { kind: "basic" };
    if (v === "authorization" || !HEADER_NAME_RE.test(v)) {
      throw new ConfigError(variable, `"${s}" is neither "bearer", "basic" nor a header name`);
    }
    return { kind: "header", name: v };
  });
}

/** An absolute URL, or undefined when unset. */
function urlVar(
  env: Env,
  name: "ORIGIN_URL" | "SESSION_JWKS_URL" | "GITHUB_SECRET_SCANNING_KEYS_URL",
): URL | undefined {
  const v = raw(env, name) ?? (VARIABLES[name] as VarSpec).default?.toString();
  if (v === undefined) return undefined;
  try {
    return new URL(v);
  } catch {
    throw new ConfigError(name, `"${v}" is not an absolute URL`);
  }
}

function parseOrigin(env: Env): string {
  const url = urlVar(env, "ORIGIN_URL");
  if (url === undefined)
    throw new ConfigError("ORIGIN_URL", "is required (the upstream base URL, e.g. https://api.internal.example)");
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError("ORIGIN_URL", "must be http:// or https://");
  if (url.username || url.password) throw new ConfigError("ORIGIN_URL", "must not carry credentials");
  if (url.search || url.hash) throw new ConfigError("ORIGIN_URL", "must not have a query or fragment");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

function parseAdmin(prefix: string, env: Env): Config["admin"] {
  return { prefix, segments: prefix.toLowerCase().split("/").slice(1), token: secretVar(env, "ADMIN_TOKEN") };
}

function parseRoutesVar(env: Env): Route[] {
  const value: unknown = env.ROUTES;
  if (typeof value !== "string") return value === undefined || value === null ? [] : routesOf(value);
  const text = raw(env, "ROUTES") ?? DEFAULTS.ROUTES;
  try {
    return routesOf(JSON.parse(text));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError("ROUTES", `is not valid JSON (${(err as Error).message})`);
  }
}

function routesOf(value: unknown): Route[] {
  try {
    return parseRoutes(value);
  } catch (err) {
    throw new ConfigError("ROUTES", (err as Error).message);
  }
}

function lastUsedInterval(env: Env): number {
  const ms = intVar(env, "LAST_USED_INTERVAL_MS");
  if (ms !== 0 && ms < MIN_LAST_USED_INTERVAL_MS) {
    throw new ConfigError(
      "LAST_USED_INTERVAL_MS",
      `must be 0 (off) or at least ${MIN_LAST_USED_INTERVAL_MS} (KV allows one write per second per key)`,
    );
  }
  return ms;
}

export function parseConfig(env: Env): Config {
  if (!env.KEYS || typeof (env.KEYS as KVNamespace).get !== "function") {
    throw new ConfigError("KEYS", "KV namespace binding is missing (see wrangler.toml [[kv_namespaces]])");
  }
  const profile: ProfileName = enumVar(env, "AUTH_PROFILE");
  const preset = PROFILES[profile];
  const sourcesRaw = raw(env, "CREDENTIAL_SOURCES");
  const missingRaw = enumVar(env, "MISSING_KEY_STATUS");
  const settings = settingsFrom(env);
  const headers = {
    org: headerVar(env, "ORG_HEADER"),
    keyId: headerVar(env, "KEY_ID_HEADER"),
    scopes: headerVar(env, "SCOPES_HEADER"),
    userId: USER_ID_HEADER,
    method: AUTH_METHOD_HEADER,
  };
  for (const [variable, value] of [
    ["ORG_HEADER", headers.org],
    ["KEY_ID_HEADER", headers.keyId],
    ["SCOPES_HEADER", headers.scopes],
  ] as const) {
    if (value === USER_ID_HEADER || value === AUTH_METHOD_HEADER)
      throw new ConfigError(variable, `"${value}" is reserved for the injected identity`);
  }
  const sources = sourcesRaw
    ? parseSources(sourcesRaw.split(","), "CREDENTIAL_SOURCES")
    : parseSources(preset.sources, "AUTH_PROFILE");
  for (const s of sources) {
    if (s.kind === "header" && Object.values(headers).includes(s.name)) {
      throw new ConfigError("CREDENTIAL_SOURCES", `"${s.name}" is also an injected header name`);
    }
  }
  const realm = stringVar(env, "AUTH_REALM");
  let signer: SigningSecret | undefined;
  const signing = secretVar(env, "ORIGIN_SIGNING_SECRET");
  if (signing !== null && signing.trim() !== "") {
    try {
      signer = parseSigningSecrets(signing)[0];
    } catch (err) {
      throw new ConfigError("ORIGIN_SIGNING_SECRET", (err as Error).message);
    }
  }
  const admin = parseAdmin(settings.adminPrefix, env);
  const { pepper, legacyPepper } = settings.key;
  const errorFormat: ErrorFormat | undefined = enumVar(env, "ERROR_FORMAT");
  const orgSource: OrgSource | undefined = enumVar(env, "ORG_SOURCE");
  return {
    profile,
    originBase: parseOrigin(env),
    sources,
    missingStatus: missingRaw ? (Number(missingRaw) as 400 | 401) : preset.missingStatus,
    errorFormat: errorFormat ?? preset.errorFormat,
    orgSource: orgSource ?? preset.orgSource,
    realm,
    challenge: challengeFor(sources, realm),
    routes: parseRoutesVar(env),
    keyPrefix: settings.key.prefix,
    upstreamTimeoutMs: intVar(env, "UPSTREAM_TIMEOUT_MS"),
    upstreamIdleTimeoutMs: intVar(env, "UPSTREAM_IDLE_TIMEOUT_MS"),
    cache: {
      ttlMs: intVar(env, "CACHE_TTL_MS"),
      negativeTtlMs: intVar(env, "NEGATIVE_CACHE_TTL_MS"),
      staleIfErrorMs: intVar(env, "STALE_IF_ERROR_MS"),
      maxEntries: intVar(env, "CACHE_MAX_ENTRIES"),
      kvCacheTtlSeconds: intVar(env, "KV_CACHE_TTL_SECONDS"),
      kvTimeoutMs: intVar(env, "KV_TIMEOUT_MS"),
    },
    headers,
    preflight: enumVar(env, "CORS_PREFLIGHT"),
    forwardClientHeaders: forwardClientHeaders(env, sources, headers),
    ...(pepper ? { pepper } : {}),
    admin,
    consoleHost: stringVar(env, "CONSOLE_HOST")?.toLowerCase() ?? null,
    lastUsedIntervalMs: lastUsedInterval(env),
    lastUsedMaxWritesPerSecond: intVar(env, "LAST_USED_MAX_WRITES_PER_SECOND"),
    expiryWarningMs: intVar(env, "EXPIRY_WARNING_DAYS") * DAY_MS,
    ...(signer ? { signer } : {}),
    authFailureBlockSeconds: intVar(env, "AUTH_FAILURE_BLOCK_SECONDS"),
    ...parseSessions(env),
    selfService: parseSelfService(env, admin.segments),
    holders: {
      maxKeysPerOrg: intVar(env, "SELF_SERVICE_MAX_KEYS_PER_ORG"),
      createPerMinute: intVar(env, "SELF_SERVICE_CREATE_PER_MINUTE"),
    },
    revocation: revocationSettings(env),
    usageFlushMs: intVar(env, "USAGE_FLUSH_MS"),
    enforcement: enumVar(env, "ENFORCEMENT"),
    ...(legacyPepper ? { legacyPepper } : {}),
    webhooks: {
      expiryNoticeMs: intVar(env, "WEBHOOK_EXPIRY_NOTICE_DAYS") * DAY_MS,
      creditsLowPercent: intVar(env, "CREDITS_LOW_PERCENT"),
      allowLoopback: enumVar(env, "WEBHOOK_ALLOW_LOOPBACK") === "true",
    },
    leaks: parseLeaks(env, admin.token),
  };
}

/**
 * FORWARD_CLIENT_HEADERS: each name must be a client claim keygate strips, and none the
 * gateway sets or reads itself (its identity headers, a credential header).
 */
function forwardClientHeaders(env: Env, sources: CredentialSource[], headers: Config["headers"]): ReadonlySet<string> {
  const allowed = parseForwardClientHeaders(stringVar(env, "FORWARD_CLIENT_HEADERS"));
  if (typeof allowed === "string") throw new ConfigError("FORWARD_CLIENT_HEADERS", allowed);
  const own = new Set<string>([
    ...Object.values(headers),
    ...sources.flatMap((s) => (s.kind === "header" ? [s.name] : [])),
  ]);
  for (const name of allowed) {
    if (own.has(name.replace(/_/g, "-")))
      throw new ConfigError("FORWARD_CLIENT_HEADERS", `"${name}" is a header the gateway sets or reads itself`);
  }
  return allowed;
}

// ---------- sessions (docs/sessions.md) ----------

/** Injected for every authenticated request: the user of a session, and how it authenticated. */
export const USER_ID_HEADER = "x-user-id";
export const AUTH_METHOD_HEADER = "x-auth-method";
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function parseSessions(env: Env): Pick<Config, "session" | "passthroughCookie"> {
  const passthroughCookie = stringVar(env, "SESSION_PASSTHROUGH_COOKIE");
  const secret = secretVar(env, "SESSION_JWT_SECRET");
  let jwksUrl: string | null = null;
  const url = urlVar(env, "SESSION_JWKS_URL");
  if (url !== undefined) {
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) {
      throw new ConfigError("SESSION_JWKS_URL", "must be https:// (http:// only on loopback, for local development)");
    }
    if (url.username || url.password || url.hash)
      throw new ConfigError("SESSION_JWKS_URL", "must not carry credentials or a fragment");
    jwksUrl = url.href;
  }
  const cookie = stringVar(env, "SESSION_COOKIE");
  if (secret === null && jwksUrl === null) {
    for (const name of [
      "SESSION_COOKIE",
      "SESSION_ISSUER",
      "SESSION_AUDIENCE",
      "SESSION_ORG_CLAIM",
      "SESSION_SCOPES_CLAIM",
    ] as const) {
      if (raw(env, name) !== undefined)
        throw new ConfigError(name, "is set but sessions are off: set SESSION_JWT_SECRET and/or SESSION_JWKS_URL");
    }
    return { session: null, passthroughCookie };
  }
  if (cookie !== null && cookie === passthroughCookie) {
    throw new ConfigError(
      "SESSION_PASSTHROUGH_COOKIE",
      "must differ from SESSION_COOKIE (a verified session cookie is never passed through unverified)",
    );
  }
  const claims = sessionClaimsFrom(env);
  return {
    session: {
      secret,
      jwksUrl,
      issuer: claims.issuer,
      audience: claims.audience,
      cookie,
      orgClaim: claims.orgClaim,
      scopesClaim: claims.scopesClaim,
    },
    passthroughCookie,
  };
}

// ---------- leaked keys (docs/leaked-keys.md) ----------

function parseLeaks(env: Env, adminToken: string | null): LeakSettings {
  const url = urlVar(env, "GITHUB_SECRET_SCANNING_KEYS_URL")!;
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)))
    throw new ConfigError(
      "GITHUB_SECRET_SCANNING_KEYS_URL",
      "must be https:// (http:// only on loopback, for local development)",
    );
  if (url.username || url.password || url.hash)
    throw new ConfigError("GITHUB_SECRET_SCANNING_KEYS_URL", "must not carry credentials or a fragment");
  const reportToken = secretVar(env, "LEAK_REPORT_TOKEN");
  if (reportToken !== null && reportToken === adminToken)
    throw new ConfigError(
      "LEAK_REPORT_TOKEN",
      "must differ from ADMIN_TOKEN (it only reports leaks; the other is root)",
    );
  return { action: enumVar(env, "LEAKED_KEY_ACTION"), githubKeysUrl: url.href, reportToken };
}

function revocationSettings(env: Env): FeedSettings {
  const pollMs = intVar(env, "REVOCATION_POLL_MS");
  const maxStalenessMs = intVar(env, "REVOCATION_MAX_STALENESS_MS");
  if (maxStalenessMs < pollMs + REVOCATION_TIMEOUT_MS) {
    throw new ConfigError(
      "REVOCATION_MAX_STALENESS_MS",
      `must be at least REVOCATION_POLL_MS + ${REVOCATION_TIMEOUT_MS} (one poll interval plus a poll's timeout)`,
    );
  }
  const kvCacheTtlSeconds = intVar(env, "KV_CACHE_TTL_SECONDS");
  return {
    pollMs,
    maxStalenessMs,
    windowMs: kvCacheTtlSeconds * 1000 + KV_PROPAGATION_ALLOWANCE_MS,
    timeoutMs: REVOCATION_TIMEOUT_MS,
  };
}

/**
 * The largest delay, in seconds, before a revocation written to KV is seen by every
 * isolate: the in-isolate positive TTL plus KV's edge cacheTtl. KV's own propagation
 * (~60 s, not bounded by Cloudflare) comes on top. During a KV outage, cached records
 * may be served up to STALE_IF_ERROR_MS longer.
 */
export function revocationBoundSeconds(config: Config): number {
  return Math.ceil(config.cache.ttlMs / 1000) + config.cache.kvCacheTtlSeconds;
}

const parsed = new WeakMap<Env, Config | ConfigError>();

/** The config for this env, parsed once per env object. */
export function configFor(env: Env): Config | ConfigError {
  let c = parsed.get(env);
  if (!c) {
    try {
      c = parseConfig(env);
    } catch (err) {
      c = err instanceof ConfigError ? err : new ConfigError("(unknown)", String(err));
    }
    parsed.set(env, c);
  }
  return c;
}
