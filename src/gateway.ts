/**
 * The hot path, in the SPEC's order: route policy on the normalized path → credential
 * extraction (refused with 429 for a client IP over its failed-authentication budget) →
 * cheap rejection / lookup / record checks (auth/verify.ts, on a cache the revocation feed
 * keeps current: docs/revocation.md) → the key's IP allowlist → org and scopes
 * (auth/authorize.ts) → the org's rate limit, the key's own, its credits (each only when
 * set: docs/limits.md) → forward with trusted identity headers, signed when
 * ORIGIN_SIGNING_SECRET is set. Usage is counted after the answer (usage/middleware.ts).
 */
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { blockedFor, clientKey, recordFailure } from "./abuse/auth-failures";
import { checkKeyRateLimit, mergeLimitHeaders, rateLimitHeaders } from "./abuse/key-rate-limiter";
import { refillPeriod, spendCredit } from "./abuse/credits";
import { ipAllowed, parseCidr } from "./net/cidr";
import type { Cidr } from "./net/cidr";
import { orgLimitFor, orgLimiterName } from "./orgs/limit";
import type { KeyRateOutcome } from "./abuse/key-rate-limiter";
import { authorize } from "./auth/authorize";
import { extractCredential } from "./auth/credentials";
import { lastUsedThrottle } from "./auth/last-used";
import { isolateOf, verifyKey } from "./auth/verify";
import { clock } from "./clock";
import type { ErrorCode } from "./errors/codes";
import type { ErrorOptions } from "./errors/render";
import { renderError } from "./errors/render";
import type { KeyRecord } from "./keys/record";
import { sunsetOf } from "./keys/record";
import { recordLastUsed } from "./keys/store";
import { logLine } from "./log";
import { forward, targetUrl } from "./proxy/forward";
import { followFeed } from "./revocation/feed";
import type { Identity } from "./proxy/headers";
import { upstreamHeaders } from "./proxy/headers";
import { normalizedPathOf, requestUrlOf } from "./routes/normalize";
import { matchRoute } from "./routes/table";
import { coveredHeaders, signatureHeader, SIGNATURE_HEADER } from "../verifier/index.js";

type Ctx = Context<AppEnv>;
// Per-request variables are read with c.get(): Hono's `c.var` getter copies every
// variable into a new object on each access (README, "Performance").

/** Answer with one of keygate's own errors, in the profile's shape. */
export function reject(c: Ctx, code: ErrorCode, opts?: ErrorOptions & { reason?: string }): Response {
  const config = c.get("config");
  c.get("log").outcome = "rejected";
  c.get("log").reason = opts?.reason ?? code;
  return renderError(
    { errorFormat: config.errorFormat, missingStatus: config.missingStatus, challenge: config.challenge, requestId: c.get("requestId") },
    code,
    opts,
  );
}

async function proxy(c: Ctx, url: URL, path: string, identity: Identity | null, extraHeaders?: Record<string, string>): Promise<Response> {
  const config = c.get("config");
  const req = c.req.raw;
  const websocket = req.headers.get("upgrade")?.toLowerCase() === "websocket";
  const headers = upstreamHeaders(req.headers, config, {
    requestId: c.get("requestId"),
    clientIp: req.headers.get("cf-connecting-ip"),
    proto: url.protocol.slice(0, -1),
    host: url.host,
    websocket,
    identity,
  });
  const target = targetUrl(config.originBase, path, url.search);
  if (config.signer) {
    // Signed over what the origin will receive: its path (base path included) and query.
    const sent = new URL(target);
    headers.set(
      SIGNATURE_HEADER,
      await signatureHeader(config.signer, {
        method: req.method,
        path: sent.pathname,
        query: sent.search.slice(1),
        timestamp: Math.floor(clock.now() / 1000),
        kid: config.signer.kid,
        headers: coveredHeaders((name) => headers.get(name) ?? "", config.headers),
      }),
    );
  }
  c.get("log").outcome = "forwarded";
  const res = await forward(target, {
    method: req.method,
    headers,
    body: req.body,
    timeoutMs: config.upstreamTimeoutMs,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    onIdleTimeout: () =>
      logLine("error", "upstream body stalled: stream cut", { request_id: c.get("requestId"), idle_timeout_ms: config.upstreamIdleTimeoutMs }),
  });
  if (res.status !== 101) {
    if (!res.headers.has("x-request-id")) res.headers.set("x-request-id", c.get("requestId"));
    for (const [name, value] of Object.entries(extraHeaders ?? {})) res.headers.set(name, value);
  }
  return res;
}

/**
 * A failed authentication: counted against the client's IP; answered with `code`, or 429
 * when that failure puts the IP over its budget.
 */
async function refuseCredential(c: Ctx, client: string | null, code: ErrorCode, opts: ErrorOptions & { reason?: string }): Promise<Response> {
  if (client !== null) {
    const config = c.get("config");
    const wait = await recordFailure(c.env.AUTH_FAILURE_LIMITER, client, clock.now(), config.authFailureBlockSeconds, (message) =>
      logLine("error", "auth failure limiter unavailable", { request_id: c.get("requestId"), cause: message }),
    );
    if (wait > 0) return tooManyFailures(c, wait);
  }
  return reject(c, code, opts);
}

function tooManyFailures(c: Ctx, retryAfterSeconds: number): Response {
  return reject(c, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
    reason: "auth_failures",
  });
}

export async function gateway(c: Ctx): Promise<Response> {
  const config = c.get("config");
  const log = c.get("log");
  const req = c.req.raw;
  const url = requestUrlOf(req);

  // 1. Route policy, on the one normalized path that is also forwarded.
  const normalized = normalizedPathOf(req);
  if (!normalized.ok) return reject(c, "malformed_request", { detail: `Invalid path: ${normalized.reason}` });
  const path = normalized.path;
  log.path = path;
  // Browsers send CORS preflights without credentials: let the origin answer them.
  if (config.preflight === "forward" && req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
    log.route = "(preflight)";
    return proxy(c, url, path, null);
  }
  const route = matchRoute(config.routes, path, req.method);
  log.route = route.path;

  // 2. Credential extraction.
  const credential = extractCredential(req.headers, config.sources);
  if (credential.kind === "missing") {
    if (route.auth === "public") return proxy(c, url, path, null);
    return reject(c, "missing_credential");
  }
  // A client over its failed-authentication budget is refused before any lookup,
  // whatever it presents (see abuse/auth-failures.ts).
  const client = clientKey(req.headers.get("cf-connecting-ip"));
  if (client !== null) {
    const wait = blockedFor(client, clock.now());
    if (wait > 0) return tooManyFailures(c, wait);
  }
  if (credential.kind === "malformed") {
    return refuseCredential(c, client, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  }

  // 3–5. Cheap rejection, lookup, record checks — on a cache the revocation feed keeps current.
  const now = clock.now();
  const isolate = isolateOf(c.env, config.cache.maxEntries);
  if (c.env.REVOCATION_FEED) {
    const wait = followFeed(c.env.REVOCATION_FEED, isolate.feed, isolate.cache, config.revocation, now, (p) => c.executionCtx.waitUntil(p), (cause) =>
      logLine("error", "revocation feed unreachable: cached keys are trusted up to CACHE_TTL_MS", { request_id: c.get("requestId"), cause }),
    );
    if (wait !== null) await wait;
  }
  const verdict = await verifyKey(credential.key, {
    kv: c.env.KEYS,
    cache: isolate.cache,
    config,
    now,
    overrides: isolate.feed.overrides,
  });
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: c.get("requestId"), cause: verdict.cause });
    return reject(c, "store_unavailable");
  }
  log.cache = verdict.tier;
  if (verdict.kind === "unknown") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  const record = verdict.record;
  log.key_id = record.id;
  // Usage counts a known key's requests, refused or not, for its default org until the
  // request's org is decided (below).
  log.usage = { org: record.orgs[0]!, keyId: record.id };
  if (verdict.kind === "denied") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  accountUse(c, record, now);
  // The key's IP allowlist (docs/limits.md): only keys that have one pay for it.
  if (record.allowed_ips && !ipAllowed(req.headers.get("cf-connecting-ip"), rangesOf(record.allowed_ips))) {
    return reject(c, "forbidden", { detail: "This API key may not be used from this address.", reason: "ip_not_allowed" });
  }

  const decision = authorize(record, route, config, req.headers);
  if (!decision.ok) {
    const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
    return reject(c, code, { detail: decision.detail, reason: decision.code });
  }
  log.org = decision.org;
  log.usage.org = decision.org;

  // The org's limit (exact, global): orgs without one cost a cached lookup, no round trip.
  let orgHeaders: Record<string, string> | undefined;
  const pending = orgLimitFor(c.env.REVOCATION_FEED ? isolate.feed : null, c.env.KEYS, decision.org, config, now, (cause) =>
    logLine("error", "org settings unreadable: no org limit applied", { request_id: c.get("requestId"), org: decision.org, cause }),
  );
  const orgLimit = pending instanceof Promise ? await pending : pending;
  if (orgLimit) {
    const outcome = await checkKeyRateLimit(c.env.KEY_RATE_LIMITER, orgLimiterName(decision.org), orgLimit);
    if ("error" in outcome) {
      logLine("error", "org rate limiter unavailable: request let through", { request_id: c.get("requestId"), org: decision.org, cause: outcome.error });
    } else {
      orgHeaders = rateLimitHeaders(outcome, "org");
      if (!outcome.allowed) return rateLimited(c, `This organization's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`, outcome.resetSeconds, orgHeaders, "org_rate_limit");
    }
  }

  // The key's own rate limit (exact, global): only keys that have one pay the round trip.
  let limitHeaders: Record<string, string> | undefined;
  if (record.rate_limit) {
    const outcome = await checkKeyRateLimit(c.env.KEY_RATE_LIMITER, record.id, record.rate_limit);
    if ("error" in outcome) {
      logLine("error", "key rate limiter unavailable: request let through", { request_id: c.get("requestId"), key_id: record.id, cause: outcome.error });
    } else {
      limitHeaders = rateLimitHeaders(outcome);
      if (!outcome.allowed) return keyRateLimited(c, outcome, mergeLimitHeaders(limitHeaders, orgHeaders)!);
    }
  }

  limitHeaders = mergeLimitHeaders(limitHeaders, orgHeaders);

  // Credits (exact, global; spent last, so a request refused above spends none).
  if (record.credits) {
    const spent = await spendCredit(c.env.KEY_RATE_LIMITER, record.credits);
    if ("error" in spent) {
      logLine("error", "credits unavailable: request refused", { request_id: c.get("requestId"), key_id: record.id, cause: spent.error });
      return reject(c, "store_unavailable", { reason: "credits_unavailable" });
    }
    if (!spent.allowed) {
      const refill = record.credits.refill;
      const retry = refill ? Math.max(1, Math.ceil((periodStart(refill.interval, refillPeriod(refill.interval, now) + 1) - now) / 1000)) : null;
      return reject(c, "rate_limited", {
        detail: "This API key has no credits left.",
        headers: { ...limitHeaders, "x-credits-remaining": "0", ...(retry !== null ? { "retry-after": String(retry) } : {}) },
        reason: "credits",
      });
    }
    limitHeaders = { ...limitHeaders, "x-credits-remaining": String(spent.remaining) };
  }

  // 6. Forward with the trusted identity.
  const res = await proxy(c, url, path, { keyId: record.id, org: decision.org, scopes: record.scopes }, limitHeaders);
  if (res.status !== 101) warnOfSunset(res.headers, record, now, config.expiryWarningMs);
  return res;
}

/**
 * 7. Account, off the critical path: the key's last use, at most once per key per
 * LAST_USED_INTERVAL_MS in this isolate, written in waitUntil after the response.
 */
function accountUse(c: Ctx, record: KeyRecord, now: number): void {
  const interval = c.get("config").lastUsedIntervalMs;
  if (interval === 0 || !lastUsedThrottle().claim(record.id, now, interval)) return;
  c.executionCtx.waitUntil(
    recordLastUsed(c.env.KEYS, record, new Date(now).toISOString()).catch((err: unknown) => {
      logLine("warn", "last-used write failed", { request_id: c.get("requestId"), key_id: record.id, cause: (err as Error).message });
    }),
  );
}

/**
 * A key in its rotation grace period or close to expiry: tell the client on every
 * forwarded response, with `Sunset` (RFC 8594: the HTTP-date it stops working) and
 * `Deprecation` (RFC 9745: `@<unix seconds>` since when it is on its way out). Values
 * the origin sent itself are kept.
 */
function warnOfSunset(headers: Headers, record: KeyRecord, now: number, warningMs: number): void {
  const notice = sunsetOf(record, now, warningMs);
  if (!notice) return;
  if (!headers.has("sunset")) headers.set("sunset", new Date(notice.sunset).toUTCString());
  if (!headers.has("deprecation")) headers.set("deprecation", `@${Math.floor(notice.deprecation / 1000)}`);
}

function keyRateLimited(c: Ctx, outcome: KeyRateOutcome, headers: Record<string, string>): Response {
  return reject(c, "rate_limited", {
    detail: `This API key's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`,
    headers: { ...headers, "retry-after": String(outcome.resetSeconds) },
    reason: "key_rate_limit",
  });
}

function rateLimited(c: Ctx, detail: string, resetSeconds: number, headers: Record<string, string>, reason: string): Response {
  return reject(c, "rate_limited", { detail, headers: { ...headers, "retry-after": String(resetSeconds) }, reason });
}

/** Start (ms) of refill period `p` (see abuse/credits.ts refillPeriod). */
function periodStart(interval: "day" | "month", p: number): number {
  return interval === "day" ? p * 86_400_000 : Date.UTC(Math.floor(p / 12), p % 12, 1);
}

/** An allowlist's ranges, parsed once per record object (cached records are the same object). */
const compiledRanges = new WeakMap<string[], Cidr[]>();
function rangesOf(list: string[]): Cidr[] {
  let ranges = compiledRanges.get(list);
  if (ranges === undefined) {
    // Stored lists were validated; an entry that no longer parses matches nothing (fail closed).
    ranges = list.map(parseCidr).filter((r): r is Cidr => r !== null);
    compiledRanges.set(list, ranges);
  }
  return ranges;
}
