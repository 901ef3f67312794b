/**
 * The documentation half of the variables' declaration (src/config/variables.ts): for each
 * variable, a one-line summary, the docs page that explains it, and what "unset" means when
 * it has no default. Kept apart so the worker's bundle carries none of it; `Record<VarName, …>`
 * makes the compiler refuse a variable without its entry (or an entry without its variable),
 * and test/unit/config/docs.test.ts holds docs/configuration.md to both halves.
 */

import type { VarName, VarSpec } from "./variables";
import { VARIABLES } from "./variables";

/** The docs page (docs/<page>.md) that explains a variable in full. */
export type DocPage =
  | "configuration"
  | "console"
  | "sessions"
  | "self-service"
  | "revocation"
  | "usage"
  | "migrating"
  | "webhooks"
  | "leaked-keys";

export interface VarDoc {
  readonly summary: string;
  readonly doc: DocPage;
  /** What "unset" means when there is no default, as the docs' default column says it. */
  readonly unset?: string;
}

export const VARIABLE_DOCS = {
  ORIGIN_URL: {
    summary: "the origin's base URL, http(s)://host[:port][/base-path]",
    doc: "configuration",
    unset: "(required)",
  },
  AUTH_PROFILE: { summary: "the authentication contract reproduced", doc: "configuration" },
  CREDENTIAL_SOURCES: {
    summary: "where a key is read: bearer, basic, header names",
    doc: "configuration",
    unset: "from profile",
  },
  MISSING_KEY_STATUS: { summary: "the status of a request without a key", doc: "configuration", unset: "from profile" },
  ERROR_FORMAT: { summary: "the shape of error bodies", doc: "configuration", unset: "from profile" },
  ORG_SOURCE: { summary: "where the injected org comes from", doc: "configuration", unset: "from profile" },
  AUTH_REALM: { summary: "the realm of WWW-Authenticate challenges", doc: "configuration" },
  ROUTES: { summary: "the route table (JSON)", doc: "configuration" },
  KEY_PREFIX: { summary: "the prefix of minted keys", doc: "configuration" },
  UPSTREAM_TIMEOUT_MS: { summary: "time allowed for the origin's response headers", doc: "configuration" },
  UPSTREAM_IDLE_TIMEOUT_MS: { summary: "a silent response body is cut after this long", doc: "configuration" },
  CACHE_TTL_MS: { summary: "in-isolate TTL of a key record", doc: "configuration" },
  NEGATIVE_CACHE_TTL_MS: { summary: "in-isolate TTL of an unknown key", doc: "configuration" },
  CACHE_MAX_ENTRIES: { summary: "cached entries per isolate", doc: "configuration" },
  KV_CACHE_TTL_SECONDS: { summary: "cacheTtl of KV reads", doc: "configuration" },
  KV_TIMEOUT_MS: { summary: "a slower KV read is a failure", doc: "configuration" },
  STALE_IF_ERROR_MS: { summary: "a cached record's use past its TTL while KV fails", doc: "configuration" },
  ORG_HEADER: { summary: "the injected org header", doc: "configuration" },
  KEY_ID_HEADER: { summary: "the injected key id header", doc: "configuration" },
  SCOPES_HEADER: { summary: "the injected scopes header", doc: "configuration" },
  CORS_PREFLIGHT: { summary: "whether CORS preflights need a key", doc: "configuration" },
  FORWARD_CLIENT_HEADERS: {
    summary: "client claims forwarded anyway, by name",
    doc: "configuration",
    unset: "unset (none)",
  },
  KEY_PEPPER: { summary: "HMAC key of key hashes", doc: "configuration", unset: "unset" },
  ADMIN_TOKEN: {
    summary: "the admin API's root Bearer token; unset = admin API off",
    doc: "configuration",
    unset: "unset",
  },
  ADMIN_PREFIX: { summary: "the admin API's path, reserved even when it is off", doc: "configuration" },
  CONSOLE_HOST: {
    summary: "the web console's own host; unset = under ADMIN_PREFIX on every host",
    doc: "console",
    unset: "unset",
  },
  LAST_USED_INTERVAL_MS: { summary: "at most one last-used write per key per interval", doc: "configuration" },
  LAST_USED_MAX_WRITES_PER_SECOND: {
    summary: "at most this many last-used writes per second per isolate",
    doc: "configuration",
  },
  EXPIRY_WARNING_DAYS: { summary: "days of Sunset/Deprecation headers before expiry", doc: "configuration" },
  ORIGIN_SIGNING_SECRET: {
    summary: "kid:secret pairs signing forwarded requests",
    doc: "configuration",
    unset: "unset",
  },
  AUTH_FAILURE_BLOCK_SECONDS: { summary: "how long an IP over its failure budget is refused", doc: "configuration" },
  SESSION_JWT_SECRET: { summary: "HS256 key of session JWTs; turns sessions on", doc: "sessions", unset: "unset" },
  SESSION_JWKS_URL: { summary: "JWKS of the identity provider; turns sessions on", doc: "sessions", unset: "unset" },
  SESSION_ISSUER: { summary: "the iss a session must carry", doc: "sessions", unset: "unset" },
  SESSION_AUDIENCE: { summary: "the aud a session must carry", doc: "sessions", unset: "unset" },
  SESSION_COOKIE: { summary: "the cookie carrying a session", doc: "sessions", unset: "unset" },
  SESSION_ORG_CLAIM: { summary: "dot path to the org claim", doc: "sessions" },
  SESSION_SCOPES_CLAIM: { summary: "dot path to the scopes claim", doc: "sessions" },
  SESSION_PASSTHROUGH_COOKIE: {
    summary: "a cookie letting credential-less requests through without identity",
    doc: "sessions",
    unset: "unset",
  },
  SELF_SERVICE_PATH: { summary: "the self-service key API's path", doc: "self-service", unset: "unset (off)" },
  SELF_SERVICE_SCOPE: { summary: "a scope every self-service caller must hold", doc: "self-service", unset: "unset" },
  SELF_SERVICE_MAX_KEYS_PER_ORG: {
    summary: "active keys created by key holders per org (self-service, portal, session users)",
    doc: "self-service",
  },
  SELF_SERVICE_CREATE_PER_MINUTE: {
    summary: "keys each holder may create or regenerate per minute",
    doc: "self-service",
  },
  REVOCATION_POLL_MS: { summary: "at most one feed poll per isolate per interval", doc: "revocation" },
  REVOCATION_MAX_STALENESS_MS: { summary: "a request waits for a poll older than this", doc: "revocation" },
  USAGE_FLUSH_MS: {
    summary:
      "a request is in GET /usage within this (+ two round trips), traffic or not: its isolate flushes within 1/5 of it (3/5 while alone in its location), its location's aggregator forwards every 4/5 at most and by each flush's oldest request + this − 1/20",
    doc: "usage",
  },
  ENFORCEMENT: { summary: "enforce, or report: decide and compare, never refuse (shadow mode)", doc: "migrating" },
  LEGACY_HASH_PEPPER: {
    summary: "the old system's pepper, for keys imported as hmac-sha256 hashes",
    doc: "migrating",
    unset: "unset",
  },
  WEBHOOK_EXPIRY_NOTICE_DAYS: { summary: "key.expiring is sent this many days before a key expires", doc: "webhooks" },
  CREDITS_LOW_PERCENT: { summary: "credits.low below this percent of the last fill; 0 = never", doc: "webhooks" },
  WEBHOOK_ALLOW_LOOPBACK: { summary: "accept http:// and loopback webhook URLs (local testing only)", doc: "webhooks" },
  LEAKED_KEY_ACTION: { summary: "what a valid leak report does to a live key", doc: "leaked-keys" },
  GITHUB_SECRET_SCANNING_KEYS_URL: {
    summary: "GitHub's secret scanning public keys (partner reports' signatures)",
    doc: "leaked-keys",
  },
  LEAK_REPORT_TOKEN: {
    summary: "the secret of GitLab's Token Revocation API and of your own scanners",
    doc: "leaked-keys",
    unset: "unset",
  },
} as const satisfies Record<VarName, VarDoc>;

/** The docs' default column for a variable: its default in backticks, or what unset means. */
export function documentedDefault(name: VarName): string {
  const spec: VarSpec = VARIABLES[name];
  const doc: VarDoc = VARIABLE_DOCS[name];
  if (spec.default !== undefined) return `\`${spec.default}\``;
  if (doc.unset === undefined) throw new Error(`${name} has neither a default nor an unset text`);
  return doc.unset;
}
