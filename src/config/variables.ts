/**
 * Every configuration variable, declared once: its kind, default, bounds and whether it is
 * a secret. This table drives the parsing, the defaults and the bounds (src/config/config.ts), the
 * `Env` type's variables, and the CLI's and `npm run dev`'s settings (settingsFrom). Its
 * documentation half (a one-line summary and the page that explains each variable) is
 * config/docs.ts, kept out of the worker's bundle; docs/configuration.md's table is held to
 * both by test/unit/config/docs.test.ts.
 *
 * Plain data and plain functions: no Workers types, so Node scripts (cli/, scripts/) can
 * import it too.
 */
import { SCOPE_RE } from "../keys/record";
import { ERROR_FORMATS, PROFILE_NAMES } from "./profiles";
import { USAGE_FLUSH_MS_DEFAULT } from "./usage-flush";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

export type VarKind =
  /** an absolute http(s) URL (src/config/config.ts checks the rest) */
  | "url"
  /** one of `values`, case-insensitive */
  | "enum"
  /** a comma list of credential sources */
  | "sources"
  /** JSON (a string, or a JSON value in wrangler.toml) */
  | "json"
  /** a whole number within min–max */
  | "int"
  /** an HTTP header name (RFC 9110 token), lowercased */
  | "header"
  /** a path of unreserved segments, without its trailing slash */
  | "path"
  /** a trimmed string matching `pattern` */
  | "string"
  /** a secret: never trimmed, never shown in an error; `min`–`max` characters */
  | "secret";

export interface VarSpec {
  readonly kind: VarKind;
  /** Applied when the variable is unset or blank. */
  readonly default?: string | number;
  readonly secret?: boolean;
  /** int: the value's bounds; secret: its length's. */
  readonly min?: number;
  readonly max?: number;
  /** enum: the allowed values (lowercase). */
  readonly values?: readonly string[];
  /** string, path, secret: what a value must match. */
  readonly pattern?: RegExp;
  /** The error when `pattern` (or a length bound) fails; "{value}" is replaced by the value (never for a secret). */
  readonly problem?: string;
}

const DAY_MS = 86_400_000;
/** RFC 9110 token. */
export const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** Path segments of unreserved characters (RFC 3986 §2.3). */
const PATH_RE = /^(\/[A-Za-z0-9\-._~]+)+$/;
/** RFC 6750 §2.1 b64token: what a client can send after "Bearer ". */
const BEARER_TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A dot path into the JWT's claims: 1–8 segments. */
const CLAIM_PATH_RE = /^[A-Za-z0-9_$:-]{1,64}(\.[A-Za-z0-9_$:-]{1,64}){0,7}$/;
const PRINTABLE_512_RE = /^[\x20-\x7e]{1,512}$/;
/** A DNS host name (RFC 1123 labels), any case: no scheme, port, path or trailing dot. */
const HOST_NAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const COOKIE_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** A comma-separated list of RFC 9110 tokens (header names), at most 2,048 characters. */
const HEADER_LIST_RE = /^(?=[\s\S]{1,2048}$)[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/** Shortest ADMIN_TOKEN accepted: a bearer secret must not be guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
/** Shortest SESSION_JWT_SECRET: an HS256 key must not be guessable. */
export const MIN_SESSION_SECRET_LENGTH = 32;
/** What LEAKED_KEY_ACTION may say (docs/leaked-keys.md). */
export const LEAK_ACTIONS = ["revoke", "disable", "report"] as const;
export type LeakAction = (typeof LEAK_ACTIONS)[number];
/** GitHub's published secret scanning keys (its partner program's documentation). */
export const GITHUB_SECRET_SCANNING_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";

export const VARIABLES = {
  ORIGIN_URL: { kind: "url" },
  AUTH_PROFILE: { kind: "enum", default: "default", values: PROFILE_NAMES },
  CREDENTIAL_SOURCES: { kind: "sources" },
  MISSING_KEY_STATUS: { kind: "enum", values: ["400", "401"] },
  ERROR_FORMAT: { kind: "enum", values: ERROR_FORMATS },
  ORG_SOURCE: { kind: "enum", values: ["key", "header"] },
  AUTH_REALM: {
    kind: "string",
    default: "api",
    pattern: /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/,
    problem: "must be 1–64 printable ASCII characters without quotes or backslashes",
  },
  ROUTES: { kind: "json", default: "[]" },
  KEY_PREFIX: {
    kind: "string",
    default: "kg_",
    pattern: /^[A-Za-z0-9_-]{0,16}$/,
    problem: "must be at most 16 characters of [A-Za-z0-9_-]",
  },
  UPSTREAM_TIMEOUT_MS: { kind: "int", default: 30_000, min: 1, max: 600_000 },
  /** A stalled response body is cut after this long without a byte (SSE heartbeats are ≤ 30 s). */
  UPSTREAM_IDLE_TIMEOUT_MS: { kind: "int", default: 60_000, min: 0, max: 3_600_000 },
  /** In-isolate positive TTL: bounds how long a revoked key can keep working here. */
  CACHE_TTL_MS: { kind: "int", default: 30_000, min: 0, max: 3_600_000 },
  /** In-isolate negative TTL: a repeated unknown key costs one KV read per window. */
  NEGATIVE_CACHE_TTL_MS: { kind: "int", default: 10_000, min: 0, max: 3_600_000 },
  CACHE_MAX_ENTRIES: { kind: "int", default: 10_000, min: 0, max: 1_000_000 },
  /** KV edge cache for reads (Cloudflare's minimum is 30 s). */
  KV_CACHE_TTL_SECONDS: { kind: "int", default: 60, min: 30, max: 86_400 },
  KV_TIMEOUT_MS: { kind: "int", default: 5_000, min: 1, max: 60_000 },
  /** How long past freshness a cached record may be used while KV is failing. */
  STALE_IF_ERROR_MS: { kind: "int", default: 300_000, min: 0, max: DAY_MS },
  ORG_HEADER: { kind: "header", default: "x-org-slug" },
  KEY_ID_HEADER: { kind: "header", default: "x-api-key-id" },
  SCOPES_HEADER: { kind: "header", default: "x-api-key-scopes" },
  CORS_PREFLIGHT: { kind: "enum", default: "forward", values: ["forward", "auth"] },
  /** Client claims (edge/proxy/client-claims.ts) the origin needs from its clients, allowed back by name. */
  FORWARD_CLIENT_HEADERS: {
    kind: "string",
    pattern: HEADER_LIST_RE,
    problem: 'must be a comma-separated list of header names (e.g. "x-client-cert,destination"); got "{value}"',
  },
  KEY_PEPPER: {
    kind: "secret",
    secret: true,
    min: 16,
    problem: "must be at least 16 characters when set",
  },
  ADMIN_TOKEN: {
    kind: "secret",
    secret: true,
    min: MIN_ADMIN_TOKEN_LENGTH,
    max: 512,
    pattern: BEARER_TOKEN_RE,
    problem: `must be ${MIN_ADMIN_TOKEN_LENGTH}–512 characters usable in "Authorization: Bearer" (letters, digits, -._~+/, trailing =), e.g. from \`openssl rand -hex 32\``,
  },
  ADMIN_PREFIX: {
    kind: "path",
    default: "/_keygate",
    pattern: PATH_RE,
    problem: 'must be a path like /_keygate (segments of letters, digits, "-", ".", "_", "~"); got "{value}"',
  },
  /** The console's own host name (docs/console.md): when set, the console answers only there, at its root. */
  CONSOLE_HOST: {
    kind: "string",
    pattern: HOST_NAME_RE,
    problem: 'must be a host name like keys.example.com (no scheme, port or path); got "{value}"',
  },
  /** Last-used writes: one per key per minute per isolate, far below KV's 1 write/s/key. */
  LAST_USED_INTERVAL_MS: { kind: "int", default: 60_000, min: 0, max: 7 * DAY_MS },
  /** Last-used writes per second per isolate, whatever the number of keys in use (KV writes are billed). */
  LAST_USED_MAX_WRITES_PER_SECOND: { kind: "int", default: 10, min: 1, max: 10_000 },
  EXPIRY_WARNING_DAYS: { kind: "int", default: 7, min: 0, max: 3650 },
  ORIGIN_SIGNING_SECRET: { kind: "secret", secret: true },
  /** Retry-After for an IP over its failed-authentication budget (the binding's longest period). */
  AUTH_FAILURE_BLOCK_SECONDS: { kind: "int", default: 60, min: 1, max: 86_400 },
  SESSION_JWT_SECRET: {
    kind: "secret",
    secret: true,
    min: MIN_SESSION_SECRET_LENGTH,
    max: 4096,
    problem: `must be ${MIN_SESSION_SECRET_LENGTH}–4096 characters (e.g. from \`openssl rand -hex 32\`)`,
  },
  SESSION_JWKS_URL: { kind: "url" },
  SESSION_ISSUER: { kind: "string", pattern: PRINTABLE_512_RE, problem: "must be 1–512 printable ASCII characters" },
  SESSION_AUDIENCE: { kind: "string", pattern: PRINTABLE_512_RE, problem: "must be 1–512 printable ASCII characters" },
  SESSION_COOKIE: {
    kind: "string",
    pattern: COOKIE_NAME_RE,
    problem: '"{value}" is not a valid cookie name (RFC 6265 token, ≤ 128 characters)',
  },
  SESSION_ORG_CLAIM: {
    kind: "string",
    default: "org_slug",
    pattern: CLAIM_PATH_RE,
    problem: 'must be a dot path of claim names like "o.slg" (letters, digits, _ $ : -); got "{value}"',
  },
  SESSION_SCOPES_CLAIM: {
    kind: "string",
    default: "scope",
    pattern: CLAIM_PATH_RE,
    problem: 'must be a dot path of claim names like "o.slg" (letters, digits, _ $ : -); got "{value}"',
  },
  SESSION_PASSTHROUGH_COOKIE: {
    kind: "string",
    pattern: COOKIE_NAME_RE,
    problem: '"{value}" is not a valid cookie name (RFC 6265 token, ≤ 128 characters)',
  },
  SELF_SERVICE_PATH: {
    kind: "path",
    pattern: PATH_RE,
    problem: 'must be a path like /api/keys (segments of letters, digits, "-", ".", "_", "~"); got "{value}"',
  },
  SELF_SERVICE_SCOPE: {
    kind: "string",
    pattern: SCOPE_RE,
    problem: 'must be one scope ([A-Za-z0-9][A-Za-z0-9:._*-]*, ≤ 128); got "{value}"',
  },
  /** Active keys created by key holders (self-service, portal and session users) per org; operators are not bounded. */
  SELF_SERVICE_MAX_KEYS_PER_ORG: { kind: "int", default: 100, min: 1, max: 10_000 },
  /** Keys each holder (a key, a session's user, an org's portal sessions) may create or regenerate per minute. */
  SELF_SERVICE_CREATE_PER_MINUTE: { kind: "int", default: 10, min: 1, max: 10_000 },
  /** At most one revocation-feed poll per isolate per this interval (only while serving requests). */
  REVOCATION_POLL_MS: { kind: "int", default: 1_000, min: 100, max: 60_000 },
  /** A request waits for a poll when the last successful one started longer ago than this. */
  REVOCATION_MAX_STALENESS_MS: { kind: "int", default: 4_000, min: 1_000, max: 3_600_000 },
  /**
   * A request is in GET /usage within this (+ two round trips): its isolate flushes within a fifth of it (three
   * fifths while alone in its location), its location's aggregator forwards by the flush's oldest request + this −
   * a round-trip allowance (config/usage-flush.ts). At most 20 s: a deferred flush sleeps up to this long in a
   * waitUntil, which Workers keep alive 30 s, and may then wait for two flushes of ≤ 5 s (edge/usage/flush.ts).
   */
  USAGE_FLUSH_MS: { kind: "int", default: USAGE_FLUSH_MS_DEFAULT, min: 1_000, max: 20_000 },
  /** Shadow mode (docs/migrating.md): `report` decides every request as `enforce` would, but forwards it unchanged. */
  ENFORCEMENT: { kind: "enum", default: "enforce", values: ["enforce", "report"] },
  /** The old system's pepper, for keys imported as `hmac-sha256:` hashes (docs/migrating.md). */
  LEGACY_HASH_PEPPER: {
    kind: "secret",
    secret: true,
    min: 1,
    max: 4096,
    problem: "must be 1–4096 characters: the old system's HMAC key, exactly as it used it",
  },
  /** key.expiring is sent once, this many days before a key's expires_at (docs/webhooks.md). */
  WEBHOOK_EXPIRY_NOTICE_DAYS: { kind: "int", default: 7, min: 1, max: 365 },
  /** credits.low is sent once per refill period when a balance falls below this percent of its last fill; 0: never. */
  CREDITS_LOW_PERCENT: { kind: "int", default: 10, min: 0, max: 99 },
  /** Accept http:// and loopback webhook URLs outside `wrangler dev` (tests, a local receiver); never in production. */
  WEBHOOK_ALLOW_LOOPBACK: { kind: "enum", default: "false", values: ["true", "false"] },
  /** What a valid leak report does to a live key (docs/leaked-keys.md): revoke it, disable it, or only record it. */
  LEAKED_KEY_ACTION: { kind: "enum", default: "revoke", values: LEAK_ACTIONS },
  /** Where GitHub publishes the keys signing its secret scanning reports (the partner program). */
  GITHUB_SECRET_SCANNING_KEYS_URL: { kind: "url", default: GITHUB_SECRET_SCANNING_KEYS_URL },
  /** The shared secret of the leak intake's GitLab Token Revocation API and of your own scanners. */
  LEAK_REPORT_TOKEN: {
    kind: "secret",
    secret: true,
    min: MIN_ADMIN_TOKEN_LENGTH,
    max: 512,
    pattern: BEARER_TOKEN_RE,
    problem: `must be ${MIN_ADMIN_TOKEN_LENGTH}–512 characters usable in an Authorization header (letters, digits, -._~+/, trailing =), e.g. from \`openssl rand -hex 32\``,
  },
} as const satisfies Record<string, VarSpec>;

type Vars = typeof VARIABLES;
export type VarName = keyof Vars;
type NamesOf<K extends VarKind> = { [N in VarName]: Vars[N]["kind"] extends K ? N : never }[VarName];

/** What each variable may hold in the environment (wrangler.toml allows numbers and JSON values). */
export type EnvVariables = {
  [N in VarName]?: Vars[N]["kind"] extends "int"
    ? string | number
    : Vars[N]["kind"] extends "json"
      ? string | unknown[]
      : N extends "MISSING_KEY_STATUS"
        ? string | number
        : string;
};

type DefaultedName = { [N in VarName]: Vars[N] extends { default: string | number } ? N : never }[VarName];

/** Every declared default, by name. */
export const DEFAULTS = Object.fromEntries(
  Object.entries(VARIABLES as Record<string, VarSpec>).flatMap(([name, spec]) =>
    spec.default === undefined ? [] : [[name, spec.default]],
  ),
) as { readonly [N in DefaultedName]: Vars[N] extends { default: infer D } ? D : never };

const spec = (name: VarName): VarSpec => VARIABLES[name];

function problem(name: VarName, value: string): string {
  return spec(name).problem!.replace("{value}", value);
}

/** The trimmed value, or undefined when unset or blank. A number is read as its digits. */
export function raw(env: object, name: VarName): string | undefined {
  const v = (env as Record<string, unknown>)[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new ConfigError(name, "must be a string");
  const t = v.trim();
  return t === "" ? undefined : t;
}

/** A whole number within the declared bounds, or the declared default. */
export function intVar(env: object, name: NamesOf<"int">): number {
  const s = VARIABLES[name];
  const v = raw(env, name);
  if (v === undefined) return s.default;
  if (!/^\d+$/.test(v)) throw new ConfigError(name, `must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < s.min || n > s.max) throw new ConfigError(name, `must be between ${s.min} and ${s.max}, got ${n}`);
  return n;
}

/** One of the declared values (lowercased), the declared default, or undefined ("from profile"). */
export function enumVar<N extends NamesOf<"enum">>(
  env: object,
  name: N,
): Vars[N]["values"][number] | (Vars[N] extends { default: infer D } ? D : undefined) {
  const s: VarSpec = VARIABLES[name];
  const v = raw(env, name);
  if (v === undefined) return s.default as never;
  const lower = v.toLowerCase();
  if (!s.values!.includes(lower)) throw new ConfigError(name, `must be one of ${s.values!.join(", ")}; got "${v}"`);
  return lower as never;
}

/** A header name (lowercased), or the declared default. */
export function headerVar(env: object, name: NamesOf<"header">): string {
  const v = raw(env, name) ?? VARIABLES[name].default;
  if (!HEADER_NAME_RE.test(v)) throw new ConfigError(name, `"${v}" is not a valid header name`);
  return v.toLowerCase();
}

/** A string matching the declared pattern, the declared default, or null when unset. */
export function stringVar<N extends NamesOf<"string">>(
  env: object,
  name: N,
): Vars[N] extends { default: string } ? string : string | null {
  const s: VarSpec = VARIABLES[name];
  const v = raw(env, name) ?? (s.default as string | undefined);
  if (v === undefined) return null as never;
  if (!s.pattern!.test(v)) throw new ConfigError(name, problem(name, v));
  return v;
}

/** A path without its trailing slash (no dot segments), the declared default, or null when unset. */
export function pathVar(env: object, name: NamesOf<"path">): string | null {
  const s: VarSpec = VARIABLES[name];
  const v = raw(env, name) ?? (s.default as string | undefined);
  if (v === undefined) return null;
  const path = v.replace(/\/+$/, "");
  if (!s.pattern!.test(path) || path.split("/").some((seg) => seg === "." || seg === ".."))
    throw new ConfigError(name, problem(name, v));
  return path;
}

/**
 * A secret as given (not trimmed), or null when unset or empty. Checked against the
 * declared length bounds and pattern; its value never appears in an error message.
 */
export function secretVar(env: object, name: NamesOf<"secret">): string | null {
  const s: VarSpec = VARIABLES[name];
  const v = (env as Record<string, unknown>)[name];
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") throw new ConfigError(name, s.problem ?? "must be a string");
  if (
    (s.min !== undefined && v.length < s.min) ||
    (s.max !== undefined && v.length > s.max) ||
    (s.pattern !== undefined && !s.pattern.test(v))
  ) {
    throw new ConfigError(name, s.problem!);
  }
  return v;
}

/** What key issuing needs (structurally src/keys/issue.ts's KeySettings). */
export interface KeyVariables {
  prefix: string;
  pepper?: string;
  /** LEGACY_HASH_PEPPER: the old system's pepper, for keys imported as hmac-sha256 hashes. */
  legacyPepper?: string;
}

/**
 * The settings shared by the gateway, the CLI and `npm run dev`, read and validated from
 * an env (the gateway's bindings, or wrangler's getPlatformProxy().env) exactly as the
 * gateway reads them. Throws ConfigError for a bad value (fail closed: a CLI must not mint
 * keys the gateway would not read).
 */
export function settingsFrom(env: object): { key: KeyVariables; adminPrefix: string } {
  const prefix = stringVar(env, "KEY_PREFIX");
  const pepper = secretVar(env, "KEY_PEPPER");
  const legacyPepper = secretVar(env, "LEGACY_HASH_PEPPER");
  return {
    key: { prefix, ...(pepper !== null ? { pepper } : {}), ...(legacyPepper !== null ? { legacyPepper } : {}) },
    adminPrefix: pathVar(env, "ADMIN_PREFIX")!,
  };
}

/** What a session JWT must carry for the gateway to accept it (SESSION_*; config/config.ts reads sessions with it). */
export interface SessionClaimVariables {
  /** SESSION_JWT_SECRET: the HS256 key; null = none. */
  secret: string | null;
  /** SESSION_ISSUER: `iss` must equal it (null = not checked). */
  issuer: string | null;
  /** SESSION_AUDIENCE: `aud` must contain it (null = not checked). */
  audience: string | null;
  /** SESSION_ORG_CLAIM split on ".". */
  orgClaim: readonly string[];
  /** SESSION_SCOPES_CLAIM split on ".". */
  scopesClaim: readonly string[];
}

/**
 * The SESSION_* variables a session's signer must follow, read and validated exactly as the
 * gateway reads them: the gateway's session settings, and `npm run keys -- session`
 * (which signs with the local SESSION_JWT_SECRET).
 */
export function sessionClaimsFrom(env: object): SessionClaimVariables {
  return {
    secret: secretVar(env, "SESSION_JWT_SECRET"),
    issuer: stringVar(env, "SESSION_ISSUER"),
    audience: stringVar(env, "SESSION_AUDIENCE"),
    orgClaim: stringVar(env, "SESSION_ORG_CLAIM").split("."),
    scopesClaim: stringVar(env, "SESSION_SCOPES_CLAIM").split("."),
  };
}
