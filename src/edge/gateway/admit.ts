/**
 * The decision, apart from HTTP: `admit(request, deps)` → an Admission — forward (with
 * the identity to vouch for and the headers to add) or refuse (with an error code, a
 * reason for the log, a detail and headers). It never builds a response and never sees
 * a Hono context: handler.ts renders or forwards what it returns, and derives the
 * access-log fields from it in one place.
 *
 * In the SPEC's order: TRACE/TRACK/CONNECT refused (405) → route policy on the normalized
 * path (a CORS preflight forwarded bodiless and credential-less unless a route hides
 * itself) → `authenticate` (credential extraction; a client over its failed-
 * authentication budget refused with 429 unless it presents a valid session, a key this
 * isolate's cache knows to be valid, or a valid key looked up within the slow lane;
 * cheap rejection / lookup / record checks in edge/auth/verify.ts on a cache the revocation
 * feed keeps current: docs/revocation.md; without a key, a session token when sessions
 * are on) → the key's IP allowlist → org and scopes
 * (edge/auth/authorize.ts) → the org's rate limit, the key's own, its credits (each only when
 * set: docs/limits.md) → forward. The self-service API (manage/self-service/caller.ts) runs the
 * same `authenticate`, `ipRefusal`, `keyRateLimit` and (without spending) credit steps.
 *
 * Side effects stay those of the decision itself: counting a failed authentication,
 * polling the revocation feed, the last-used write and error log lines (waitUntil and the
 * request id come in through `deps`).
 */
import { blockedFor, clientKey, recordFailure, takeSlowLookup } from "../abuse/auth-failures";
import { refillPeriod, spendCredit } from "../abuse/credits";
import { checkKeyRateLimit, mergeLimitHeaders, rateLimitHeaders } from "../abuse/key-rate-limiter";
import type { KeyRateOutcome } from "../abuse/key-rate-limiter";
import { authorize } from "../auth/authorize";
import type { Decision } from "../auth/authorize";
import { extractCredential } from "../auth/credentials";
import { cookieOf, JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "../auth/session";
import { cachedValidVerdict, verifyKey } from "../auth/verify";
import type { Verdict } from "../auth/verify";
import { clock } from "../../lib/clock";
import { classifyKey } from "../../keys/format";
import type { Config, Env } from "../../config/config";
import type { ErrorCode } from "../../errors/codes";
import type { KeyRecord } from "../../keys/record";
import { sunsetOf } from "../../keys/record";
import { recordLastUsed } from "../../keys/store";
import type { RequestLog } from "../../lib/log";
import { logLine } from "../../lib/log";
import { ipAllowed, parseCidr } from "../../lib/cidr";
import type { Cidr } from "../../lib/cidr";
import { orgLimitFor, orgLimiterName } from "../abuse/org-limit";
import type { Identity } from "../proxy/headers";
import { followFeed } from "../revocation/follower";
import { normalizedPathOf, requestUrlOf } from "../routes/normalize";
import { matchRoute } from "../routes/table";
import type { Route } from "../routes/table";
import type { IsolateState } from "./isolate";

/** What a decision needs: the config, the bindings, this isolate's state, and a way to run work after the answer. */
export interface AdmitDeps {
  config: Config;
  env: Env;
  isolate: IsolateState;
  /** For error log lines. */
  requestId: string;
  waitUntil(promise: Promise<unknown>): void;
}

/** What the decision learnt about the request, for the access log and usage (lib/log.ts RequestLog). */
export type Facts = Pick<RequestLog, "path" | "route" | "auth" | "key_id" | "user_id" | "org" | "cache" | "usage">;

export interface Refusal {
  kind: "refuse";
  code: ErrorCode;
  /** For the log: `code` unless more precise (method_refused, auth_failures, a key's denial…). */
  reason: string;
  detail?: string;
  headers?: Record<string, string>;
  facts: Facts;
}

export interface Forward {
  kind: "forward";
  /** The normalized path, forwarded. */
  path: string;
  url: URL;
  /** The identity vouched for to the origin; null: none (public route, preflight, passthrough cookie). */
  identity: Identity | null;
  /** Response headers to set (RateLimit, credits). */
  headers?: Record<string, string>;
  /** Response headers to add unless the origin sent them (Sunset, Deprecation: RFC 8594, RFC 9745). */
  fallbackHeaders?: Record<string, string>;
  /** A CORS preflight: forwarded without a body. */
  preflight: boolean;
  /** Forwarded without a verified credential: a preflight's Authorization and Cookie are dropped too. */
  anonymous: boolean;
  facts: Facts;
}

export type Admission = Forward | Refusal;

export function refusal(facts: Facts, code: ErrorCode, opts: { reason?: string; detail?: string; headers?: Record<string, string> } = {}): Refusal {
  return { kind: "refuse", code, reason: opts.reason ?? code, facts, ...(opts.detail !== undefined ? { detail: opts.detail } : {}), ...(opts.headers ? { headers: opts.headers } : {}) };
}

/**
 * Methods answered 405 at the edge, never forwarded: TRACE and TRACK echo the request
 * (headers included) back (cross-site tracing), CONNECT would ask the origin for a tunnel.
 * Compared case-insensitively: a server may read `trace` as TRACE.
 */
const EDGE_REFUSED_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);
/** The Allow header of that 405 (RFC 9110 §15.5.6): what the gateway forwards. */
export const FORWARDED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/** An OPTIONS request with Access-Control-Request-Method: a CORS preflight (Fetch §4.8). */
function isPreflight(req: Request): boolean {
  return req.method === "OPTIONS" && req.headers.has("access-control-request-method");
}

export async function admit(req: Request, deps: AdmitDeps): Promise<Admission> {
  const { config } = deps;
  const facts: Facts = {};
  if (EDGE_REFUSED_METHODS.has(req.method.toUpperCase())) {
    return refusal(facts, "method_not_allowed", { detail: "Method Not Allowed", headers: { allow: FORWARDED_METHODS }, reason: "method_refused" });
  }
  const url = requestUrlOf(req);

  // 1. Route policy, on the one normalized path that is also forwarded.
  const normalized = normalizedPathOf(req);
  if (!normalized.ok) return refusal(facts, "malformed_request", { detail: `Invalid path: ${normalized.reason}` });
  const path = normalized.path;
  facts.path = path;
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
      facts.route = "(preflight)";
      return { kind: "forward", path, url, identity: null, preflight: true, anonymous: true, facts };
    }
  }
  facts.route = route.path;

  // 2–5. Who: a key, else (sessions on) a session token.
  const who = await authenticate(req.headers, deps, facts, { countUsage: true });
  if (who.kind === "refuse") return who;
  if (who.kind === "none") {
    if (route.auth === "public") return { kind: "forward", path, url, identity: null, preflight, anonymous: true, facts };
    if (config.passthroughCookie !== null && cookieOf(req.headers.get("cookie"), config.passthroughCookie) !== null) {
      // SESSION_PASSTHROUGH_COOKIE: the origin authenticates it; no identity is vouched for.
      facts.auth = "passthrough";
      return { kind: "forward", path, url, identity: null, preflight, anonymous: false, facts };
    }
    return refusal(facts, "missing_credential");
  }

  if (who.kind === "session") {
    // A session: authorized by the route's scopes and (artanis) the org header exactly
    // like a key, then forwarded with x-user-id and x-auth-method: session.
    const decision = authorize({ orgs: [who.org], scopes: who.scopes }, route, config, req.headers, "session");
    if (!decision.ok) return forbidden(facts, decision, route);
    facts.org = decision.value;
    facts.usage!.org = decision.value;
    const now = clock.now();
    await follow(deps, now);
    const org = await orgLimit(deps, decision.value, now, facts);
    if (org?.kind === "refuse") return org;
    const identity: Identity = { method: "session", userId: who.sub, org: decision.value, scopes: who.scopes };
    return { kind: "forward", path, url, identity, preflight, anonymous: false, facts, ...(org ? { headers: org.headers } : {}) };
  }

  const { record, now } = who;
  const outside = ipRefusal(record, req.headers, facts);
  if (outside) return outside;
  const decision = authorize(record, route, config, req.headers);
  if (!decision.ok) return forbidden(facts, decision, route);
  facts.org = decision.value;
  facts.usage!.org = decision.value;

  const org = await orgLimit(deps, decision.value, now, facts);
  if (org?.kind === "refuse") return org;
  const orgHeaders = org?.headers;

  // The key's own rate limit (exact, global): only keys that have one pay the round trip.
  let limitHeaders: Record<string, string> | undefined;
  if (record.rate_limit) {
    const outcome = await keyRateLimit(deps, record);
    if (outcome !== null) {
      limitHeaders = rateLimitHeaders(outcome);
      if (!outcome.allowed) return keyRateLimited(facts, outcome, mergeLimitHeaders(limitHeaders, orgHeaders)!);
    }
  }
  limitHeaders = mergeLimitHeaders(limitHeaders, orgHeaders);

  // Credits (exact, global; spent last, so a request refused above spends none).
  if (record.credits) {
    const spending = await spendCredit(deps.env.KEY_RATE_LIMITER, record.credits);
    if (!spending.ok) {
      logLine("error", "credits unavailable: request refused", { request_id: deps.requestId, key_id: record.id, cause: spending.error });
      return refusal(facts, "store_unavailable", { reason: "credits_unavailable" });
    }
    const spent = spending.value;
    if (!spent.allowed) return noCredits(facts, record, now, limitHeaders);
    limitHeaders = { ...limitHeaders, "x-credits-remaining": String(spent.remaining) };
  }

  // 6. Forward with the trusted identity; a key on its way out says so (Sunset, Deprecation).
  const identity: Identity = { method: "key", keyId: record.id, org: decision.value, scopes: record.scopes };
  const notice = sunsetOf(record, now, config.expiryWarningMs);
  return {
    kind: "forward",
    path,
    url,
    identity,
    preflight,
    anonymous: false,
    facts,
    ...(limitHeaders ? { headers: limitHeaders } : {}),
    ...(notice ? { fallbackHeaders: { sunset: new Date(notice.sunset).toUTCString(), deprecation: `@${Math.floor(notice.deprecation / 1000)}` } } : {}),
  };
}

/**
 * The key's IP allowlist (docs/limits.md), wherever the key authenticates (the gateway,
 * the self-service API): the refusal when the client's address is not in it. Only keys
 * that have one pay for it.
 */
export function ipRefusal(record: KeyRecord, headers: Headers, facts: Facts): Refusal | null {
  if (record.allowed_ips && !ipAllowed(headers.get("cf-connecting-ip"), rangesOf(record.allowed_ips))) {
    return refusal(facts, "forbidden", { detail: "This API key may not be used from this address.", reason: "ip_not_allowed" });
  }
  return null;
}

/** A metered key at zero credits (the gateway, the self-service API): the profile's 429, with Retry-After until the refill. */
export function noCredits(facts: Facts, record: KeyRecord, now: number, headers: Record<string, string> | undefined): Refusal {
  const refill = record.credits?.refill;
  const retry = refill ? Math.max(1, Math.ceil((periodStart(refill.interval, refillPeriod(refill.interval, now) + 1) - now) / 1000)) : null;
  return refusal(facts, "rate_limited", {
    detail: "This API key has no credits left.",
    headers: { ...headers, "x-credits-remaining": "0", ...(retry !== null ? { "retry-after": String(retry) } : {}) },
    reason: "credits",
  });
}

function forbidden(facts: Facts, decision: Extract<Decision, { ok: false }>, route: Route): Refusal {
  const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
  return refusal(facts, code, { detail: decision.detail, reason: decision.code });
}

/** Who presented what: nothing, a usable key (its record), a verified session, or the refusal. */
export type Authenticated =
  | { kind: "none" }
  | { kind: "key"; record: KeyRecord; now: number }
  | { kind: "session"; sub: string; org: string; scopes: string[] }
  | Refusal;

/**
 * Credential → failure budget → verify (or session), the steps every path that
 * authenticates a caller shares (the gateway, the self-service API). Fills `facts` (auth,
 * cache, key_id, user_id; with `countUsage`, whom usage counts the request for). A key
 * that passes has its use accounted (the last-used write).
 */
export async function authenticate(headers: Headers, deps: AdmitDeps, facts: Facts, opts: { countUsage: boolean }): Promise<Authenticated> {
  const { config, isolate } = deps;
  const credential = extractCredential(headers, config.sources, config.session !== null);
  const sessionToken = credential.kind === "missing" && config.session !== null ? sessionTokenOf(headers, config.session) : null;
  if (credential.kind === "missing" && sessionToken === null) return { kind: "none" };
  // A client over its failed-authentication budget (edge/abuse/auth-failures.ts) is not a
  // lockout for the others behind its address (a NAT, an IPv6 /64): a session is still
  // verified (locally, no lookup) and passes when valid; a key this isolate's cache knows
  // to be valid passes with no KV read; any other key is looked up only within the slow
  // lane (SLOW_LOOKUPS_PER_MINUTE per client per isolate). Everything else is 429.
  // The client's identity is parsed only when needed: some client is blocked in this
  // isolate, or this request fails.
  let parsedClient: string | null | undefined;
  const clientOf = (): string | null => (parsedClient === undefined ? (parsedClient = clientKey(headers.get("cf-connecting-ip"))) : parsedClient);
  const blockedNow = (at: number): number => {
    if (isolate.blocked.size === 0) return 0;
    const client = clientOf();
    return client === null ? 0 : blockedFor(isolate.blocked, client, at);
  };
  // No key here means a session token (checked above): verified locally.
  if (credential.kind === "missing") {
    facts.auth = "session";
    const session = await verifySession(sessionToken!, config.session!, clock.now());
    if (session.kind === "invalid") {
      if (session.reason === JWKS_UNAVAILABLE) return refusal(facts, "store_unavailable", { reason: `session_${JWKS_UNAVAILABLE}` });
      return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: `session_${session.reason}` });
    }
    facts.user_id = session.sub;
    // Usage counts a session's requests for its org, like a key's (edge/usage/count.ts).
    if (opts.countUsage) facts.usage = { org: session.org, keyId: null };
    return { kind: "session", sub: session.sub, org: session.org, scopes: session.scopes };
  }
  facts.auth = "key";
  const now = clock.now();
  const wait = blockedNow(now);
  if (credential.kind === "malformed") {
    if (wait > 0) return tooManyFailures(facts, wait);
    return refuseCredential(deps, facts, clientOf(), "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  }
  // Cheap rejection, lookup, record checks — on a cache the revocation feed keeps current.
  await follow(deps, now);
  let verdict: Verdict;
  if (wait > 0) {
    const known = await cachedValidVerdict(credential.key, { cache: isolate.cache, config, now });
    if (known !== null) verdict = known;
    else {
      // A key with our prefix and a bad checksum needs no lookup to be refused.
      const lookup = classifyKey(credential.key, config.keyPrefix) === "corrupt" ? null : takeSlowLookup(isolate.blocked, clientOf()!, now);
      if (lookup === null) return tooManyFailures(facts, wait);
      verdict = await verifyKey(credential.key, { kv: deps.env.KEYS, cache: isolate.cache, config, now, overrides: isolate.feed.overrides });
      // A valid key, or a store failure, was no guess: the lane keeps its room.
      if (verdict.kind === "valid" || verdict.kind === "error") lookup.giveBack();
    }
  } else {
    verdict = await verifyKey(credential.key, { kv: deps.env.KEYS, cache: isolate.cache, config, now, overrides: isolate.feed.overrides });
  }
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: deps.requestId, cause: verdict.cause });
    return refusal(facts, "store_unavailable");
  }
  facts.cache = verdict.tier;
  if (verdict.kind === "unknown") return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: verdict.reason });
  const record = verdict.record;
  facts.key_id = record.id;
  // Usage counts a known key's requests, refused or not, for its default org until the
  // request's org is decided.
  if (opts.countUsage) facts.usage = { org: record.orgs[0]!, keyId: record.id };
  if (verdict.kind === "denied") return refuseCredential(deps, facts, clientOf(), "invalid_key", { reason: verdict.reason });
  accountUse(deps, record, now);
  return { kind: "key", record, now };
}

/**
 * This isolate's key cache (and its view of scoped admin tokens: the admin API calls this
 * too) brought up to date with the revocation feed first when there is one: a background poll at most every REVOCATION_POLL_MS, awaited only when the last
 * one is older than REVOCATION_MAX_STALENESS_MS (docs/revocation.md).
 */
export async function follow(deps: AdmitDeps, now: number): Promise<void> {
  const { env, isolate, config } = deps;
  if (!env.REVOCATION_FEED) return;
  const wait = followFeed(env.REVOCATION_FEED, isolate.feed, isolate.cache, config.revocation, now, deps.waitUntil, (cause) =>
    logLine("error", "revocation feed unreachable: cached keys are trusted up to CACHE_TTL_MS", { request_id: deps.requestId, cause }),
  );
  if (wait !== null) await wait;
}

/**
 * A failed authentication: counted against the client's IP (the gateway's budget);
 * refused with `code`, or 429 when that failure puts the IP over its budget or it was
 * already over (the block is extended).
 */
async function refuseCredential(deps: AdmitDeps, facts: Facts, client: string | null, code: ErrorCode, opts: { reason?: string; detail?: string }): Promise<Refusal> {
  if (client !== null) {
    const wait = await recordFailure(deps.isolate.blocked, deps.env.AUTH_FAILURE_LIMITER, client, clock.now(), deps.config.authFailureBlockSeconds, (message) =>
      logLine("error", "auth failure limiter unavailable", { request_id: deps.requestId, cause: message }),
    );
    if (wait > 0) return tooManyFailures(facts, wait);
  }
  return refusal(facts, code, opts);
}

function tooManyFailures(facts: Facts, retryAfterSeconds: number): Refusal {
  return refusal(facts, "rate_limited", {
    detail: "Too many failed authentication attempts from this address; retry later.",
    headers: { "retry-after": String(retryAfterSeconds) },
    reason: "auth_failures",
  });
}

/**
 * Account, off the critical path: the key's last use, at most once per key per
 * LAST_USED_INTERVAL_MS and within LAST_USED_MAX_WRITES_PER_SECOND in this isolate,
 * written in waitUntil after the response.
 */
function accountUse(deps: AdmitDeps, record: KeyRecord, now: number): void {
  const interval = deps.config.lastUsedIntervalMs;
  if (interval === 0 || !deps.isolate.lastUsed.claim(record.id, now, interval, deps.config.lastUsedMaxWritesPerSecond)) return;
  deps.waitUntil(
    recordLastUsed(deps.env.KEYS, record, new Date(now).toISOString()).catch((err: unknown) => {
      logLine("warn", "last-used write failed", { request_id: deps.requestId, key_id: record.id, cause: (err as Error).message });
    }),
  );
}

/**
 * The key's own rate limit (its record's `rate_limit`, which the caller checked is set):
 * the limiter's outcome, or null when it cannot be asked (logged; rate limits fail open).
 */
export async function keyRateLimit(deps: AdmitDeps, record: KeyRecord): Promise<KeyRateOutcome | null> {
  const checked = await checkKeyRateLimit(deps.env.KEY_RATE_LIMITER, record.id, record.rate_limit!);
  if (!checked.ok) {
    logLine("error", "key rate limiter unavailable: request let through", { request_id: deps.requestId, key_id: record.id, cause: checked.error });
    return null;
  }
  return checked.value;
}

export function keyRateLimited(facts: Facts, outcome: KeyRateOutcome, headers: Record<string, string>): Refusal {
  return refusal(facts, "rate_limited", {
    detail: `This API key's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`,
    headers: { ...headers, "retry-after": String(outcome.resetSeconds) },
    reason: "key_rate_limit",
  });
}

/**
 * The org's limit (exact, global), for keys and sessions alike: orgs without one cost a
 * cached lookup and no round trip. The RateLimit headers to add, or the 429.
 */
async function orgLimit(deps: AdmitDeps, org: string, now: number, facts: Facts): Promise<{ kind: "headers"; headers: Record<string, string> } | Refusal | undefined> {
  const { config, env, isolate } = deps;
  const pending = orgLimitFor(isolate.orgs, env.REVOCATION_FEED ? isolate.feed : null, env.KEYS, org, config, now, (cause) =>
    logLine("error", "org settings unreadable: no org limit applied", { request_id: deps.requestId, org, cause }),
  );
  const limit = pending instanceof Promise ? await pending : pending;
  if (!limit) return undefined;
  const checked = await checkKeyRateLimit(env.KEY_RATE_LIMITER, orgLimiterName(org), limit);
  if (!checked.ok) {
    logLine("error", "org rate limiter unavailable: request let through", { request_id: deps.requestId, org, cause: checked.error });
    return undefined;
  }
  const outcome = checked.value;
  const headers = rateLimitHeaders(outcome, "org");
  if (!outcome.allowed) {
    return refusal(facts, "rate_limited", {
      detail: `This organization's rate limit (${outcome.limit} requests per ${outcome.periodSeconds} s) is exhausted; retry later.`,
      headers: { ...headers, "retry-after": String(outcome.resetSeconds) },
      reason: "org_rate_limit",
    });
  }
  return { kind: "headers", headers };
}

/** Start (ms) of refill period `p` (see edge/abuse/credits.ts refillPeriod). */
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
