/**
 * Environment → one validated, typed Config. Parsed once per env object (per isolate in
 * production). A bad value never half-works: the gateway answers every request 500 and
 * logs which variable is wrong (fail closed, nothing proxied).
 */
import { challengeFor } from "./auth/credentials";
import { PROFILE_NAMES, PROFILES, ERROR_FORMATS } from "./profiles";
import type { ErrorFormat, OrgSource, ProfileName } from "./profiles";
import { parseRoutes } from "./routes/table";
import type { Route } from "./routes/table";
import { parseSigningSecrets } from "../verifier/index.js";
import type { SigningSecret } from "../verifier/index.js";
import type { KeyRateLimiter } from "./abuse/key-rate-limiter-object";
import type { SessionSettings } from "./auth/session";
import { parseSelfService } from "./self-service/config";
import type { SelfServiceConfig } from "./self-service/config";
import type { FeedSettings } from "./revocation/feed";
import type { RevocationFeed } from "./revocation/feed-object";
import type { UsageStore } from "./usage/store-object";

/** Bindings and variables (wrangler.toml [vars], --var, .dev.vars, secrets). */
export interface Env {
  KEYS: KVNamespace;
  ORIGIN_URL?: string;
  AUTH_PROFILE?: string;
  CREDENTIAL_SOURCES?: string;
  MISSING_KEY_STATUS?: string | number;
  ERROR_FORMAT?: string;
  ORG_SOURCE?: string;
  AUTH_REALM?: string;
  ROUTES?: string | unknown[];
  KEY_PREFIX?: string;
  UPSTREAM_TIMEOUT_MS?: string | number;
  CACHE_TTL_MS?: string | number;
  NEGATIVE_CACHE_TTL_MS?: string | number;
  STALE_IF_ERROR_MS?: string | number;
  CACHE_MAX_ENTRIES?: string | number;
  KV_CACHE_TTL_SECONDS?: string | number;
  KV_TIMEOUT_MS?: string | number;
  ORG_HEADER?: string;
  KEY_ID_HEADER?: string;
  SCOPES_HEADER?: string;
  CORS_PREFLIGHT?: string;
  KEY_PEPPER?: string;
  /** Secret: enables the admin API under ADMIN_PREFIX (Bearer token). Unset = admin API off. */
  ADMIN_TOKEN?: string;
  ADMIN_PREFIX?: string;
  LAST_USED_INTERVAL_MS?: string | number;
  EXPIRY_WARNING_DAYS?: string | number;
  UPSTREAM_IDLE_TIMEOUT_MS?: string | number;
  /** Secret: `kid:secret[,kid:secret…]`; when set, forwarded requests are signed. */
  ORIGIN_SIGNING_SECRET?: string;
  AUTH_FAILURE_BLOCK_SECONDS?: string | number;
  /** Rate Limiting binding counting failed authentications per client IP (wrangler.toml [[ratelimits]]). */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** Durable Object namespace enforcing per-key rate limits (wrangler.toml [[durable_objects.bindings]]). */
  KEY_RATE_LIMITER?: DurableObjectNamespace<KeyRateLimiter>;
  // Sessions beside keys (docs/sessions.md).
  /** Secret: HS256 key for session JWTs (≥ 32 characters). */
  SESSION_JWT_SECRET?: string;
  SESSION_JWKS_URL?: string;
  SESSION_ISSUER?: string;
  SESSION_AUDIENCE?: string;
  SESSION_COOKIE?: string;
  SESSION_ORG_CLAIM?: string;
  SESSION_SCOPES_CLAIM?: string;
  SESSION_PASSTHROUGH_COOKIE?: string;
  /** The self-service key API's path (e.g. /api/keys); unset = off. See docs/self-service.md. */
  SELF_SERVICE_PATH?: string;
  /** A scope every self-service caller must hold; unset = any key of the org. */
  SELF_SERVICE_SCOPE?: string;
  /** Durable Object holding the revocation feed (docs/revocation.md). Absent = no feed: the TTL bound applies. */
  REVOCATION_FEED?: DurableObjectNamespace<RevocationFeed>;
  /** Durable Object namespace keeping usage counts, one object per org (docs/usage.md). */
  USAGE_STORE?: DurableObjectNamespace<UsageStore>;
  USAGE_FLUSH_MS?: string | number;
  REVOCATION_POLL_MS?: string | number;
  REVOCATION_MAX_STALENESS_MS?: string | number;
}

export type CredentialSource = { kind: "header"; name: string } | { kind: "bearer" } | { kind: "basic" };

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
  pepper?: string;
  admin: {
    /** Normalized, without a trailing slash ("/_keygate"). Reserved even when the API is off. */
    prefix: string;
    /** Lowercased segments of `prefix`, matched against a request's matchSegments(). */
    segments: string[];
    /** ADMIN_TOKEN; null = the admin API is off (its prefix answers the profile's 404). */
    token: string | null;
  };
  /** At most one last-used write per key per this interval per isolate; 0 = not tracked. */
  lastUsedIntervalMs: number;
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
  /** SELF_SERVICE_PATH/SELF_SERVICE_SCOPE (self-service/config.ts); null = off. */
  selfService: SelfServiceConfig | null;
  /** The revocation feed's polling (revocation/feed.ts). */
  revocation: FeedSettings;
  /** Usage counts are flushed from an isolate at most this often (docs/usage.md). */
  usageFlushMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

export const DEFAULTS = {
  KEY_PREFIX: "kg_",
  UPSTREAM_TIMEOUT_MS: 30_000,
  /** A stalled response body is cut after this long without a byte (SSE heartbeats are ≤ 30 s). */
  UPSTREAM_IDLE_TIMEOUT_MS: 60_000,
  /** Retry-After for an IP over its failed-authentication budget (the binding's longest period). */
  AUTH_FAILURE_BLOCK_SECONDS: 60,
  /** In-isolate positive TTL: bounds how long a revoked key can keep working here. */
  CACHE_TTL_MS: 30_000,
  /** In-isolate negative TTL: a repeated unknown key costs one KV read per window. */
  NEGATIVE_CACHE_TTL_MS: 10_000,
  /** How long past freshness a cached record may be used while KV is failing. */
  STALE_IF_ERROR_MS: 300_000,
  CACHE_MAX_ENTRIES: 10_000,
  /** KV edge cache for reads (Cloudflare's minimum is 30 s). */
  KV_CACHE_TTL_SECONDS: 60,
  KV_TIMEOUT_MS: 5_000,
  ORG_HEADER: "x-org-slug",
  KEY_ID_HEADER: "x-api-key-id",
  SCOPES_HEADER: "x-api-key-scopes",
  AUTH_REALM: "api",
  ADMIN_PREFIX: "/_keygate",
  SESSION_ORG_CLAIM: "org_slug",
  SESSION_SCOPES_CLAIM: "scope",
  /** Last-used writes: one per key per minute per isolate, far below KV's 1 write/s/key. */
  LAST_USED_INTERVAL_MS: 60_000,
  EXPIRY_WARNING_DAYS: 7,
  /** At most one revocation-feed poll per isolate per this interval (only while serving requests). */
  REVOCATION_POLL_MS: 1_000,
  /** A request waits for a poll when the last successful one started longer ago than this. */
  REVOCATION_MAX_STALENESS_MS: 4_000,
  USAGE_FLUSH_MS: 10_000,
} as const;

/** A feed poll's wait for the object; past it the poll has failed. */
export const REVOCATION_TIMEOUT_MS = 1_000;
/** Allowance for KV's propagation (≈ 60 s "or more") on top of the edge cacheTtl, for feed overrides. */
export const KV_PROPAGATION_ALLOWANCE_MS = 300_000;

/** Shortest ADMIN_TOKEN accepted: a bearer secret must not be guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
/** KV allows one write per second per key: a shorter interval could exceed it. */
const MIN_LAST_USED_INTERVAL_MS = 1_000;
const DAY_MS = 86_400_000;

const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/; // RFC 9110 token
const PREFIX_RE = /^[A-Za-z0-9_-]{0,16}$/;
/** RFC 6750 §2.1 b64token: what a client can send after "Bearer ". */
const BEARER_TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Path segments of unreserved characters (RFC 3986 §2.3), no dot segments. */
const ADMIN_PREFIX_RE = /^(\/[A-Za-z0-9\-._~]+)+$/;

function str(env: Env, name: keyof Env): string | undefined {
  const v = env[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new ConfigError(name, "must be a string");
  const t = v.trim();
  return t === "" ? undefined : t;
}

function int(env: Env, name: keyof Env, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: keyof Env, allowed: readonly T[]): T | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  const v = raw.toLowerCase() as T;
  if (!allowed.includes(v)) throw new ConfigError(name, `must be one of ${allowed.join(", ")}; got "${raw}"`);
  return v;
}

function headerName(env: Env, name: keyof Env, fallback: string): string {
  const v = str(env, name) ?? fallback;
  if (!HEADER_NAME_RE.test(v)) throw new ConfigError(name, `"${v}" is not a valid header name`);
  return v.toLowerCase();
}

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

function parseOrigin(env: Env): string {
  const raw = str(env, "ORIGIN_URL");
  if (raw === undefined) throw new ConfigError("ORIGIN_URL", "is required (the upstream base URL, e.g. https://api.internal.example)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("ORIGIN_URL", `"${raw}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("ORIGIN_URL", "must be http:// or https://");
  if (url.username || url.password) throw new ConfigError("ORIGIN_URL", "must not carry credentials");
  if (url.search || url.hash) throw new ConfigError("ORIGIN_URL", "must not have a query or fragment");
  return url.origin + url.pathname.replace(/\/+$/, "");
}

function parseAdmin(env: Env): Config["admin"] {
  const raw = str(env, "ADMIN_PREFIX") ?? DEFAULTS.ADMIN_PREFIX;
  const prefix = raw.replace(/\/+$/, "");
  if (!ADMIN_PREFIX_RE.test(prefix) || prefix.split("/").some((seg) => seg === "." || seg === "..")) {
    throw new ConfigError("ADMIN_PREFIX", `must be a path like /_keygate (segments of letters, digits, "-", ".", "_", "~"); got "${raw}"`);
  }
  // A secret: its value never appears in an error message.
  const token = env.ADMIN_TOKEN;
  if (token === undefined || token === null || token === "") return { prefix, segments: prefix.toLowerCase().split("/").slice(1), token: null };
  if (typeof token !== "string" || token.length < MIN_ADMIN_TOKEN_LENGTH || token.length > 512 || !BEARER_TOKEN_RE.test(token)) {
    throw new ConfigError(
      "ADMIN_TOKEN",
      `must be ${MIN_ADMIN_TOKEN_LENGTH}–512 characters usable in "Authorization: Bearer" (letters, digits, -._~+/, trailing =), e.g. from \`openssl rand -hex 32\``,
    );
  }
  return { prefix, segments: prefix.toLowerCase().split("/").slice(1), token };
}

function parseRoutesVar(env: Env): Route[] {
  const raw = env.ROUTES;
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return [];
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError("ROUTES", `is not valid JSON (${(err as Error).message})`);
    }
  }
  try {
    return parseRoutes(value);
  } catch (err) {
    throw new ConfigError("ROUTES", (err as Error).message);
  }
}

function lastUsedInterval(env: Env): number {
  const ms = int(env, "LAST_USED_INTERVAL_MS", DEFAULTS.LAST_USED_INTERVAL_MS, 0, 7 * DAY_MS);
  if (ms !== 0 && ms < MIN_LAST_USED_INTERVAL_MS) {
    throw new ConfigError("LAST_USED_INTERVAL_MS", `must be 0 (off) or at least ${MIN_LAST_USED_INTERVAL_MS} (KV allows one write per second per key)`);
  }
  return ms;
}

export function parseConfig(env: Env): Config {
  if (!env.KEYS || typeof (env.KEYS as KVNamespace).get !== "function") {
    throw new ConfigError("KEYS", "KV namespace binding is missing (see wrangler.toml [[kv_namespaces]])");
  }
  const profile = oneOf(env, "AUTH_PROFILE", PROFILE_NAMES) ?? "default";
  const preset = PROFILES[profile];
  const sourcesRaw = str(env, "CREDENTIAL_SOURCES");
  const missingRaw = oneOf(env, "MISSING_KEY_STATUS", ["400", "401"] as const);
  const keyPrefix = str(env, "KEY_PREFIX") ?? DEFAULTS.KEY_PREFIX;
  if (!PREFIX_RE.test(keyPrefix)) throw new ConfigError("KEY_PREFIX", "must be at most 16 characters of [A-Za-z0-9_-]");
  const headers = {
    org: headerName(env, "ORG_HEADER", DEFAULTS.ORG_HEADER),
    keyId: headerName(env, "KEY_ID_HEADER", DEFAULTS.KEY_ID_HEADER),
    scopes: headerName(env, "SCOPES_HEADER", DEFAULTS.SCOPES_HEADER),
    userId: USER_ID_HEADER,
    method: AUTH_METHOD_HEADER,
  };
  for (const [variable, value] of [["ORG_HEADER", headers.org], ["KEY_ID_HEADER", headers.keyId], ["SCOPES_HEADER", headers.scopes]] as const) {
    if (value === USER_ID_HEADER || value === AUTH_METHOD_HEADER) throw new ConfigError(variable, `"${value}" is reserved for the injected identity`);
  }
  const sources = sourcesRaw ? parseSources(sourcesRaw.split(","), "CREDENTIAL_SOURCES") : parseSources(preset.sources, "AUTH_PROFILE");
  for (const s of sources) {
    if (s.kind === "header" && Object.values(headers).includes(s.name)) {
      throw new ConfigError("CREDENTIAL_SOURCES", `"${s.name}" is also an injected header name`);
    }
  }
  const realm = str(env, "AUTH_REALM") ?? DEFAULTS.AUTH_REALM;
  if (!/^[\x20-\x7e]{1,64}$/.test(realm) || /["\\]/.test(realm)) {
    throw new ConfigError("AUTH_REALM", "must be 1–64 printable ASCII characters without quotes or backslashes");
  }
  const pepper = typeof env.KEY_PEPPER === "string" && env.KEY_PEPPER !== "" ? env.KEY_PEPPER : undefined;
  if (pepper !== undefined && pepper.length < 16) throw new ConfigError("KEY_PEPPER", "must be at least 16 characters when set");
  let signer: SigningSecret | undefined;
  if (typeof env.ORIGIN_SIGNING_SECRET === "string" && env.ORIGIN_SIGNING_SECRET.trim() !== "") {
    try {
      signer = parseSigningSecrets(env.ORIGIN_SIGNING_SECRET)[0];
    } catch (err) {
      throw new ConfigError("ORIGIN_SIGNING_SECRET", (err as Error).message);
    }
  }
  const admin = parseAdmin(env);
  return {
    profile,
    originBase: parseOrigin(env),
    sources,
    missingStatus: missingRaw ? (Number(missingRaw) as 400 | 401) : preset.missingStatus,
    errorFormat: oneOf(env, "ERROR_FORMAT", ERROR_FORMATS) ?? preset.errorFormat,
    orgSource: oneOf(env, "ORG_SOURCE", ["key", "header"] as const) ?? preset.orgSource,
    realm,
    challenge: challengeFor(sources, realm),
    routes: parseRoutesVar(env),
    keyPrefix,
    upstreamTimeoutMs: int(env, "UPSTREAM_TIMEOUT_MS", DEFAULTS.UPSTREAM_TIMEOUT_MS, 1, 600_000),
    upstreamIdleTimeoutMs: int(env, "UPSTREAM_IDLE_TIMEOUT_MS", DEFAULTS.UPSTREAM_IDLE_TIMEOUT_MS, 0, 3_600_000),
    cache: {
      ttlMs: int(env, "CACHE_TTL_MS", DEFAULTS.CACHE_TTL_MS, 0, 3_600_000),
      negativeTtlMs: int(env, "NEGATIVE_CACHE_TTL_MS", DEFAULTS.NEGATIVE_CACHE_TTL_MS, 0, 3_600_000),
      staleIfErrorMs: int(env, "STALE_IF_ERROR_MS", DEFAULTS.STALE_IF_ERROR_MS, 0, 86_400_000),
      maxEntries: int(env, "CACHE_MAX_ENTRIES", DEFAULTS.CACHE_MAX_ENTRIES, 0, 1_000_000),
      kvCacheTtlSeconds: int(env, "KV_CACHE_TTL_SECONDS", DEFAULTS.KV_CACHE_TTL_SECONDS, 30, 86_400),
      kvTimeoutMs: int(env, "KV_TIMEOUT_MS", DEFAULTS.KV_TIMEOUT_MS, 1, 60_000),
    },
    headers,
    preflight: oneOf(env, "CORS_PREFLIGHT", ["forward", "auth"] as const) ?? "forward",
    ...(pepper ? { pepper } : {}),
    admin,
    lastUsedIntervalMs: lastUsedInterval(env),
    expiryWarningMs: int(env, "EXPIRY_WARNING_DAYS", DEFAULTS.EXPIRY_WARNING_DAYS, 0, 3650) * DAY_MS,
    ...(signer ? { signer } : {}),
    authFailureBlockSeconds: int(env, "AUTH_FAILURE_BLOCK_SECONDS", DEFAULTS.AUTH_FAILURE_BLOCK_SECONDS, 1, 86_400),
    ...parseSessions(env),
    selfService: parseSelfService(env, admin.segments),
    revocation: revocationSettings(env),
    usageFlushMs: int(env, "USAGE_FLUSH_MS", DEFAULTS.USAGE_FLUSH_MS, 1_000, 3_600_000),
  };
}

// ---------- sessions (docs/sessions.md) ----------

/** Injected for every authenticated request: the user of a session, and how it authenticated. */
export const USER_ID_HEADER = "x-user-id";
export const AUTH_METHOD_HEADER = "x-auth-method";
/** Shortest SESSION_JWT_SECRET: an HS256 key must not be guessable. */
export const MIN_SESSION_SECRET_LENGTH = 32;
/** A dot path into the JWT's claims: 1–8 segments. */
const CLAIM_PATH_RE = /^[A-Za-z0-9_$:-]{1,64}(\.[A-Za-z0-9_$:-]{1,64}){0,7}$/;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function cookieName(env: Env, name: keyof Env): string | null {
  const v = str(env, name);
  if (v === undefined) return null;
  if (!HEADER_NAME_RE.test(v) || v.length > 128) throw new ConfigError(name, `"${v}" is not a valid cookie name (RFC 6265 token, ≤ 128 characters)`);
  return v;
}

function claimPath(env: Env, name: "SESSION_ORG_CLAIM" | "SESSION_SCOPES_CLAIM"): string[] {
  const v = str(env, name) ?? DEFAULTS[name];
  if (!CLAIM_PATH_RE.test(v)) throw new ConfigError(name, `must be a dot path of claim names like "o.slg" (letters, digits, _ $ : -); got "${v}"`);
  return v.split(".");
}

function plainValue(env: Env, name: keyof Env): string | null {
  const v = str(env, name);
  if (v === undefined) return null;
  if (v.length > 512 || !/^[\x20-\x7e]+$/.test(v)) throw new ConfigError(name, "must be 1–512 printable ASCII characters");
  return v;
}

function parseSessions(env: Env): Pick<Config, "session" | "passthroughCookie"> {
  const passthroughCookie = cookieName(env, "SESSION_PASSTHROUGH_COOKIE");
  // A secret: its value never appears in an error message.
  const rawSecret = env.SESSION_JWT_SECRET;
  let secret: string | null = null;
  if (rawSecret !== undefined && rawSecret !== null && rawSecret !== "") {
    if (typeof rawSecret !== "string" || rawSecret.length < MIN_SESSION_SECRET_LENGTH || rawSecret.length > 4096) {
      throw new ConfigError("SESSION_JWT_SECRET", `must be ${MIN_SESSION_SECRET_LENGTH}–4096 characters (e.g. from \`openssl rand -hex 32\`)`);
    }
    secret = rawSecret;
  }
  let jwksUrl: string | null = null;
  const rawUrl = str(env, "SESSION_JWKS_URL");
  if (rawUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new ConfigError("SESSION_JWKS_URL", `"${rawUrl}" is not an absolute URL`);
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) {
      throw new ConfigError("SESSION_JWKS_URL", "must be https:// (http:// only on loopback, for local development)");
    }
    if (url.username || url.password || url.hash) throw new ConfigError("SESSION_JWKS_URL", "must not carry credentials or a fragment");
    jwksUrl = url.href;
  }
  const cookie = cookieName(env, "SESSION_COOKIE");
  if (secret === null && jwksUrl === null) {
    for (const name of ["SESSION_COOKIE", "SESSION_ISSUER", "SESSION_AUDIENCE", "SESSION_ORG_CLAIM", "SESSION_SCOPES_CLAIM"] as const) {
      if (str(env, name) !== undefined) throw new ConfigError(name, "is set but sessions are off: set SESSION_JWT_SECRET and/or SESSION_JWKS_URL");
    }
    return { session: null, passthroughCookie };
  }
  if (cookie !== null && cookie === passthroughCookie) {
    throw new ConfigError("SESSION_PASSTHROUGH_COOKIE", "must differ from SESSION_COOKIE (a verified session cookie is never passed through unverified)");
  }
  return {
    session: {
      secret,
      jwksUrl,
      issuer: plainValue(env, "SESSION_ISSUER"),
      audience: plainValue(env, "SESSION_AUDIENCE"),
      cookie,
      orgClaim: claimPath(env, "SESSION_ORG_CLAIM"),
      scopesClaim: claimPath(env, "SESSION_SCOPES_CLAIM"),
    },
    passthroughCookie,
  };
}

function revocationSettings(env: Env): FeedSettings {
  const pollMs = int(env, "REVOCATION_POLL_MS", DEFAULTS.REVOCATION_POLL_MS, 100, 60_000);
  const maxStalenessMs = int(env, "REVOCATION_MAX_STALENESS_MS", DEFAULTS.REVOCATION_MAX_STALENESS_MS, 1_000, 3_600_000);
  if (maxStalenessMs < pollMs + REVOCATION_TIMEOUT_MS) {
    throw new ConfigError("REVOCATION_MAX_STALENESS_MS", `must be at least REVOCATION_POLL_MS + ${REVOCATION_TIMEOUT_MS} (one poll interval plus a poll's timeout)`);
  }
  const kvCacheTtlSeconds = int(env, "KV_CACHE_TTL_SECONDS", DEFAULTS.KV_CACHE_TTL_SECONDS, 30, 86_400);
  return { pollMs, maxStalenessMs, windowMs: kvCacheTtlSeconds * 1000 + KV_PROPAGATION_ALLOWANCE_MS, timeoutMs: REVOCATION_TIMEOUT_MS };
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
