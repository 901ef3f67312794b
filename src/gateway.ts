/**
 * The hot path, in the SPEC's order: TRACE/TRACK refused (405) → route policy on the
 * normalized path (a CORS preflight forwarded bodiless and credential-less unless a route
 * hides itself) → credential extraction (refused with 429 for a client IP over its
 * failed-authentication budget, unless the key is one this isolate's cache knows to be
 * valid; without a key, a session token when sessions are on: viaSession) → cheap
 * rejection / lookup / record checks (auth/verify.ts) → org and scopes
 * (auth/authorize.ts) → the key's own rate limit, if it has one → forward with trusted
 * identity headers (proxy/headers.ts strips the rest), signed when ORIGIN_SIGNING_SECRET
 * is set.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { blockedFor, clientKey, recordFailure } from "./abuse/auth-failures";
import { checkKeyRateLimit, rateLimitHeaders } from "./abuse/key-rate-limiter";
import type { KeyRateOutcome } from "./abuse/key-rate-limiter";
import { authorize } from "./auth/authorize";
import { extractCredential } from "./auth/credentials";
import { cookieOf, JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "./auth/session";
import { lastUsedThrottle } from "./auth/last-used";
import { cachedValidVerdict, keyCache, verifyKey } from "./auth/verify";
import type { Verdict } from "./auth/verify";
import { clock } from "./clock";
import type { ErrorCode } from "./errors/codes";
import type { ErrorOptions } from "./errors/render";
import { renderError } from "./errors/render";
import type { KeyRecord } from "./keys/record";
import { sunsetOf } from "./keys/record";
import { recordLastUsed } from "./keys/store";
import { logLine } from "./log";
import { forward, targetUrl } from "./proxy/forward";
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
  const cache = keyCache(config.cache.maxEntries);
  const wait = client === null ? 0 : blockedFor(client, now);
  let verdict: Verdict;
  if (wait > 0) {
    const known = credential.kind === "present" ? await cachedValidVerdict(credential.key, { cache, config, now }) : null;
    if (known === null) return tooManyFailures(c, wait);
    verdict = known;
  } else {
    if (credential.kind === "malformed") {
      return refuseCredential(c, client, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
    }
    // 3–5. Cheap rejection, lookup, record checks.
    verdict = await verifyKey(credential.key, { kv: c.env.KEYS, cache, config, now });
  }
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: c.get("requestId"), cause: verdict.cause });
    return reject(c, "store_unavailable");
  }
  log.cache = verdict.tier;
  if (verdict.kind === "unknown") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  const record = verdict.record;
  log.key_id = record.id;
  if (verdict.kind === "denied") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  accountUse(c, record, now);

  const decision = authorize(record, route, config, req.headers);
  if (!decision.ok) {
    const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
    return reject(c, code, { detail: decision.detail, reason: decision.code });
  }
  log.org = decision.org;

  // The key's own rate limit (exact, global): only keys that have one pay the round trip.
  let limitHeaders: Record<string, string> | undefined;
  if (record.rate_limit) {
    const outcome = await checkKeyRateLimit(c.env.KEY_RATE_LIMITER, record.id, record.rate_limit);
    if ("error" in outcome) {
      logLine("error", "key rate limiter unavailable: request let through", { request_id: c.get("requestId"), key_id: record.id, cause: outcome.error });
    } else {
      limitHeaders = rateLimitHeaders(outcome);
      if (!outcome.allowed) return keyRateLimited(c, outcome, limitHeaders);
    }
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
  const decision = authorize({ orgs: [verdict.org], scopes: verdict.scopes }, route, config, c.req.raw.headers, "session");
  if (!decision.ok) {
    const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
    return reject(c, code, { detail: decision.detail, reason: decision.code });
  }
  log.org = decision.org;
  return proxy(c, url, path, { method: "session", userId: verdict.sub, org: decision.org, scopes: verdict.scopes }, { preflight });
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
