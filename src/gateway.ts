/**
 * The hot path, in the SPEC's order: TRACE/TRACK refused (405) → route policy on the
 * normalized path (a CORS preflight forwarded bodiless and credential-less unless a route
 * hides itself) → credential extraction (refused with 429 for a client IP over its
 * failed-authentication budget, unless the key is one this isolate's cache knows to be
 * valid; without a key, a session token when sessions are on: viaSession) → cheap
 * rejection / lookup / record checks (auth/verify.ts, on a cache the revocation feed keeps
 * current: docs/revocation.md) → the key's IP allowlist → org and scopes
 * (auth/authorize.ts) → the org's rate limit, the key's own, its credits (each only when
 * set: docs/limits.md) → forward with trusted identity headers (proxy/headers.ts strips the
 * rest), signed when ORIGIN_SIGNING_SECRET is set. Usage is counted after the answer
 * (usage/middleware.ts).
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
import { cookieOf, JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "./auth/session";
import { lastUsedThrottle } from "./auth/last-used";
import { cachedValidVerdict, isolateOf, verifyKey } from "./auth/verify";
import type { IsolateState, Verdict } from "./auth/verify";
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
import { forwardedSearch, upstreamHeaders } from "./proxy/headers";
import { normalizedPathOf, requestUrlOf } from "./routes/normalize";
import { matchRoute } from "./routes/table";
import type { Route } from "./routes/table";
import { coveredHeaders, signatureHeader, SIGNATURE_HEADER } from "../verifier/index.js";

type Ctx = Context<AppEnv>;
// Per-request variables are read with c.get(): Hono's `c.var` getter copies every
// variable into a new object on each access (docs/performance.md).

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

/** An OPTIONS request with Access-Control-Request-Method: a CORS preflight (Fetch §4.8). */
function isPreflight(req: Request): boolean {
  return req.method === "OPTIONS" && req.headers.has("access-control-request-method");
}

interface ProxyOptions {
  /** Response headers to add (the key's RateLimit headers). */
  extraHeaders?: Record<string, string>;
  /** A CORS preflight: forwarded without a body (it has none; a smuggled one is dropped). */
  preflight?: boolean;
  /** Forwarded without a verified key: Authorization and Cookie are dropped too. */
  anonymous?: boolean;
}

async function proxy(c: Ctx, url: URL, path: string, identity: Identity | null, opts: ProxyOptions = {}): Promise<Response> {
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
    dropCredentials: opts.preflight === true && opts.anonymous === true,
    noBody: opts.preflight === true,
  });
  // A keygate key in a query parameter never reaches the origin (headers: upstreamHeaders).
  const target = targetUrl(config.originBase, path, forwardedSearch(url.search, config));
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
    body: opts.preflight ? null : req.body,
    timeoutMs: config.upstreamTimeoutMs,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    onIdleTimeout: () =>
      logLine("error", "upstream body stalled: stream cut", { request_id: c.get("requestId"), idle_timeout_ms: config.upstreamIdleTimeoutMs }),
  });
  if (res.status !== 101) {
    // Ours, always: the one id the logs, the origin's header and the signature carry.
    res.headers.set("x-request-id", c.get("requestId"));
    for (const [name, value] of Object.entries(opts.extraHeaders ?? {})) res.headers.set(name, value);
  }
  return res;
}

/**
 * A failed authentication: counted against the client's IP; answered with `code`, or 429
 * when that failure puts the IP over its budget.
 */
export async function refuseCredential(c: Ctx, client: string | null, code: ErrorCode, opts: ErrorOptions & { reason?: string }): Promise<Response> {
  if (client !== null) {
    const config = c.get("config");
    const wait = await recordFailure(c.env.AUTH_FAILURE_LIMITER, client, clock.now(), config.authFailureBlockSeconds, (message) =>
      logLine("error", "auth failure limiter unavailable", { request_id: c.get("requestId"), cause: message }),
    );
    if (wait > 0) return tooManyFailures(c, wait);
  }
  return reject(c, code, opts);
}

export function tooManyFailures(c: Ctx, retryAfterSeconds: number): Response {
  return reject(c, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
    reason: "auth_failures",
  });
}

/**
 * Methods answered 405 at the edge, never forwarded: TRACE and TRACK echo the request
 * (headers included) back (cross-site tracing), CONNECT would ask the origin for a tunnel.
 * Compared case-insensitively: a server may read `trace` as TRACE.
 */
const EDGE_REFUSED_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);
/** The Allow header of that 405 (RFC 9110 §15.5.6): what the gateway forwards. */
export const FORWARDED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/**
 * This isolate's key cache and feed view (auth/verify.ts), brought up to date with the
 * revocation feed first when there is one: a background poll at most every
 * REVOCATION_POLL_MS, awaited only when the last one is older than
 * REVOCATION_MAX_STALENESS_MS (docs/revocation.md). Every path that verifies a key goes
 * through it (the gateway, the self-service API).
 */
export async function currentIsolate(c: Ctx, now: number): Promise<IsolateState> {
  const config = c.get("config");
  const isolate = isolateOf(c.env, config.cache.maxEntries);
  if (c.env.REVOCATION_FEED) {
    const wait = followFeed(c.env.REVOCATION_FEED, isolate.feed, isolate.cache, config.revocation, now, (p) => c.executionCtx.waitUntil(p), (cause) =>
      logLine("error", "revocation feed unreachable: cached keys are trusted up to CACHE_TTL_MS", { request_id: c.get("requestId"), cause }),
    );
    if (wait !== null) await wait;
  }
  return isolate;
}

export async function gateway(c: Ctx): Promise<Response> {
  const config = c.get("config");
  const log = c.get("log");
  const req = c.req.raw;
  if (EDGE_REFUSED_METHODS.has(req.method.toUpperCase())) {
    return reject(c, "method_not_allowed", { detail: "Method Not Allowed", headers: { allow: FORWARDED_METHODS }, reason: "method_refused" });
  }
  const url = requestUrlOf(req);

  // 1. Route policy, on the one normalized path that is also forwarded.
  const normalized = normalizedPathOf(req);
  if (!normalized.ok) return reject(c, "malformed_request", { detail: `Invalid path: ${normalized.reason}` });
  const path = normalized.path;
  log.path = path;
  let route = matchRoute(config.routes, path, req.method);
  const preflight = isPreflight(req);
  if (preflight) {
    // A CORS preflight is policed under the route of the method it announces when that
    // route hides itself: a forwarded preflight would reveal what `hide` conceals.
    const announced = req.headers.get("access-control-request-method")!.trim().toUpperCase();
    const target = /^[A-Z]+$/.test(announced) ? matchRoute(config.routes, path, announced) : route;
    if (target.hide) route = target;
    // Browsers send preflights without credentials: unless the route hides itself, let
    // the origin answer them — without any credential (dropped, never forwarded unchecked).
    if (config.preflight === "forward" && !route.hide) {
      log.route = "(preflight)";
      return proxy(c, url, path, null, { preflight: true, anonymous: true });
    }
  }
  log.route = route.path;

  // 2. Credential extraction: a key, else (sessions on) a session token (auth/session.ts).
  const credential = extractCredential(req.headers, config.sources, config.session !== null);
  const sessionToken = credential.kind === "missing" && config.session !== null ? sessionTokenOf(req.headers, config.session) : null;
  if (credential.kind === "missing" && sessionToken === null) {
    if (route.auth === "public") return proxy(c, url, path, null, { preflight, anonymous: true });
    if (config.passthroughCookie !== null && cookieOf(req.headers.get("cookie"), config.passthroughCookie) !== null) {
      // SESSION_PASSTHROUGH_COOKIE: the origin authenticates it; no identity is vouched for.
      log.auth = "passthrough";
      return proxy(c, url, path, null, { preflight });
    }
    return reject(c, "missing_credential");
  }
  // A client over its failed-authentication budget is refused before any lookup — unless
  // it presents a key this isolate's cache already knows to be valid (no KV read): behind
  // a shared address (NAT, an IPv6 /64), one client's guesses must not lock out the
  // others (see abuse/auth-failures.ts).
  const client = clientKey(req.headers.get("cf-connecting-ip"));
  // No key here means a session token (checked above): verified locally, but a client
  // over its budget is refused before that too.
  if (credential.kind === "missing") {
    const blocked = client === null ? 0 : blockedFor(client, clock.now());
    if (blocked > 0) return tooManyFailures(c, blocked);
    return viaSession(c, url, path, route, client, sessionToken!, preflight);
  }
  log.auth = "key";
  const now = clock.now();
  const wait = client === null ? 0 : blockedFor(client, now);
  if (wait === 0 && credential.kind === "malformed") {
    return refuseCredential(c, client, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  }
  // 3–5. Cheap rejection, lookup, record checks — on a cache the revocation feed keeps current.
  const isolate = await currentIsolate(c, now);
  let verdict: Verdict;
  if (wait > 0) {
    const known = credential.kind === "present" ? await cachedValidVerdict(credential.key, { cache: isolate.cache, config, now }) : null;
    if (known === null) return tooManyFailures(c, wait);
    verdict = known;
  } else {
    verdict = await verifyKey((credential as { key: string }).key, { kv: c.env.KEYS, cache: isolate.cache, config, now, overrides: isolate.feed.overrides });
  }
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

  const org = await orgLimited(c, decision.org, isolate, now);
  if (org instanceof Response) return org;
  const orgHeaders = org;

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
  const res = await proxy(c, url, path, { method: "key", keyId: record.id, org: decision.org, scopes: record.scopes }, { extraHeaders: limitHeaders, preflight });
  if (res.status !== 101) warnOfSunset(res.headers, record, now, config.expiryWarningMs);
  return res;
}

/**
 * A session instead of a key (auth/session.ts): verified, then authorized by the route's
 * scopes and (artanis) the org header exactly like a key, then forwarded with x-user-id
 * and x-auth-method: session. A bad session is the profile's 401 with a bad key's body,
 * counted against the client's failure budget; an unreachable JWKS is a 503, not counted.
 */
/**
 * The org's limit (exact, global), for keys and sessions alike: orgs without one cost a
 * cached lookup and no round trip. The RateLimit headers to add, or the 429.
 */
async function orgLimited(c: Ctx, org: string, isolate: IsolateState, now: number): Promise<Record<string, string> | undefined | Response> {
  const config = c.get("config");
  const pending = orgLimitFor(c.env.REVOCATION_FEED ? isolate.feed : null, c.env.KEYS, org, config, now, (cause) =>
    logLine("error", "org settings unreadable: no org limit applied", { request_id: c.get("requestId"), org, cause }),
  );
  const orgLimit = pending instanceof Promise ? await pending : pending;
  if (!orgLimit) return undefined;
  const outcome = await checkKeyRateLimit(c.env.KEY_RATE_LIMITER, orgLimiterName(org), orgLimit);
  if ("error" in outcome) {
    logLine("error", "org rate limiter unavailable: request let through", { request_id: c.get("requestId"), org, cause: outcome.error });
    return undefined;
  }
  const headers = rateLimitHeaders(outcome, "org");
  if (!outcome.allowed) return rateLimited(c, `This organization's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`, outcome.resetSeconds, headers, "org_rate_limit");
  return headers;
}

async function viaSession(c: Ctx, url: URL, path: string, route: Route, client: string | null, token: string, preflight: boolean): Promise<Response> {
  const config = c.get("config");
  const log = c.get("log");
  log.auth = "session";
  const verdict = await verifySession(token, config.session!, clock.now());
  if (verdict.kind === "invalid") {
    if (verdict.reason === JWKS_UNAVAILABLE) return reject(c, "store_unavailable", { reason: `session_${JWKS_UNAVAILABLE}` });
    return refuseCredential(c, client, "invalid_key", { reason: `session_${verdict.reason}` });
  }
  log.user_id = verdict.sub;
  // Usage counts a session's requests for its org, like a key's (usage/middleware.ts).
  log.usage = { org: verdict.org, keyId: null };
  const decision = authorize({ orgs: [verdict.org], scopes: verdict.scopes }, route, config, c.req.raw.headers, "session");
  if (!decision.ok) {
    const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
    return reject(c, code, { detail: decision.detail, reason: decision.code });
  }
  log.org = decision.org;
  log.usage.org = decision.org;
  const now = clock.now();
  const orgHeaders = await orgLimited(c, decision.org, await currentIsolate(c, now), now);
  if (orgHeaders instanceof Response) return orgHeaders;
  return proxy(c, url, path, { method: "session", userId: verdict.sub, org: decision.org, scopes: verdict.scopes }, { preflight, ...(orgHeaders ? { extraHeaders: orgHeaders } : {}) });
}

/**
 * 7. Account, off the critical path: the key's last use, at most once per key per
 * LAST_USED_INTERVAL_MS in this isolate, written in waitUntil after the response.
 */
export function accountUse(c: Ctx, record: KeyRecord, now: number): void {
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

export function keyRateLimited(c: Ctx, outcome: KeyRateOutcome, headers: Record<string, string>): Response {
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
