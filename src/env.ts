/**
 * The Worker's bindings (wrangler.toml) and variables (wrangler.toml [vars], --var,
 * .dev.vars, secrets) — the `Env` type and nothing else, so nothing cycles through it.
 * The variables' names and value types come from their declaration (config/variables.ts);
 * the bindings are listed once more, by kind, in BINDINGS, which test/unit/env.test.ts holds
 * to every environment of wrangler.toml, both ways.
 *
 * Written by hand rather than by `wrangler types` on purpose (docs/configuration.md): every
 * variable is optional and untrusted until config/config.ts has validated it.
 */
import type { EnvVariables } from "./config/variables";
import type { ConsoleSessions, KeyRateLimiter, RevocationFeed, ShadowStore, UsageStore, WebhookHub } from "./objects";

export interface Env extends EnvVariables {
  /** Key records, tokens, listings, audit and org settings (docs/storage.md). */
  KEYS: KVNamespace;
  /** Rate Limiting binding counting failed authentications per client IP (wrangler.toml [[ratelimits]]). */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** Durable Object namespace enforcing per-key rate limits (wrangler.toml [[durable_objects.bindings]]). */
  KEY_RATE_LIMITER?: DurableObjectNamespace<KeyRateLimiter>;
  /** Durable Object holding the revocation feed (docs/revocation.md). Absent = no feed: the TTL bound applies. */
  REVOCATION_FEED?: DurableObjectNamespace<RevocationFeed>;
  /** Durable Object namespace keeping usage counts, one object per org (docs/usage.md). */
  USAGE_STORE?: DurableObjectNamespace<UsageStore>;
  /**
   * Durable Object holding the web console's sessions and portal links (docs/console.md). Absent: the console answers
   * 503.
   */
  CONSOLE_SESSIONS?: DurableObjectNamespace<ConsoleSessions>;
  /** Durable Object holding the webhooks, their queue and delivery log (docs/webhooks.md). Absent: no webhooks (503). */
  WEBHOOKS?: DurableObjectNamespace<WebhookHub>;
  /** Durable Object keeping report mode's comparisons (docs/migrating.md). Absent: report mode counts nothing. */
  SHADOW_STORE?: DurableObjectNamespace<ShadowStore>;
}

/**
 * The bindings of `Env`, by the wrangler.toml section that declares them (and the class each Durable Object binding
 * names).
 */
export const BINDINGS = {
  KEYS: { section: "kv_namespaces" },
  AUTH_FAILURE_LIMITER: { section: "ratelimits" },
  KEY_RATE_LIMITER: { section: "durable_objects", className: "KeyRateLimiter" },
  REVOCATION_FEED: { section: "durable_objects", className: "RevocationFeed" },
  USAGE_STORE: { section: "durable_objects", className: "UsageStore" },
  CONSOLE_SESSIONS: { section: "durable_objects", className: "ConsoleSessions" },
  WEBHOOKS: { section: "durable_objects", className: "WebhookHub" },
  SHADOW_STORE: { section: "durable_objects", className: "ShadowStore" },
} as const satisfies Record<Exclude<keyof Env, keyof EnvVariables>, { section: string; className?: string }>;
