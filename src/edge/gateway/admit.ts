/**
 * The decision, apart from HTTP: `admit(request, deps)` → an Admission (admission.ts) —
 * forward (with the identity to vouch for and the headers to add) or refuse (with an error
 * code, a reason for the log, a detail and headers). It never builds a response and never
 * sees a Hono context: handler.ts renders or forwards what it returns, and respond.ts
 * derives the access-log fields from it in one place.
 *
 * In the SPEC's order: TRACE/TRACK/CONNECT refused (405) → route policy on the normalized
 * path (a CORS preflight forwarded bodiless and credential-less unless a route hides
 * itself) → `authenticate` (auth/authenticate.ts: the credential, the client's
 * failed-authentication budget, cheap rejection / lookup / record checks, or a session) →
 * the key's IP allowlist → org and scopes (auth/authorize.ts) → a method override in a
 * form body (routes/method-override.ts) → the org's rate limit, the
 * key's own, its credits (abuse/limits.ts, each only when set: docs/limits.md) → forward.
 *
 * Side effects stay those of the decision itself: counting a failed authentication,
 * polling the revocation feed, the last-used write and error log lines (waitUntil and the
 * request id come in through `deps`).
 */

import { sunsetOf } from "../../keys/record";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import { spendCredit, tellCredits } from "../abuse/credits";
import { mergeLimitHeaders, rateLimitHeaders } from "../abuse/key-rate-limiter";
import { ipRefusal, keyRateLimit, keyRateLimited, noCredits, orgLimit } from "../abuse/limits";
import type { Admission, AdmitDeps, Facts, Refusal } from "../admission";
import { refusal } from "../admission";
import { authenticate, follow } from "../auth/authenticate";
import type { Decision } from "../auth/authorize";
import { authorize } from "../auth/authorize";
import { cookieOf } from "../auth/session";
import type { Identity } from "../proxy/headers";
import { pathCarriesKey, strayKeyMatcher } from "../proxy/stray-keys";
import type { Caller, Grant } from "../routes/method-override";
import { formOverrideRefusal } from "../routes/method-override";
import { normalizedPathOf, requestUrlOf } from "../routes/normalize";
import type { Route } from "../routes/table";
import { matchRoute } from "../routes/table";

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
    return refusal(facts, "method_not_allowed", {
      detail: "Method Not Allowed",
      headers: { allow: FORWARDED_METHODS },
      reason: "method_refused",
    });
  }
  const url = requestUrlOf(req);

  // 1. Route policy, on the one normalized path that is also forwarded.
  const normalized = normalizedPathOf(req);
  if (!normalized.ok) return refusal(facts, "malformed_request", { detail: `Invalid path: ${normalized.reason}` });
  const path = normalized.path;
  // A keygate key in the path would reach the origin (its logs) unverified; a path cannot lose it.
  if (pathCarriesKey(path, strayKeyMatcher(config)))
    return refusal(facts, "malformed_request", {
      detail: "Invalid path: it carries an API key; send the key where it is read",
    });
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
      if (route.enforcement) facts.enforcement = route.enforcement;
      return { kind: "forward", path, url, identity: null, preflight: true, anonymous: true, facts };
    }
  }
  facts.route = route.path;
  // Reported or enforced, when the route says (edge/shadow/report.ts): decided alike either way.
  if (route.enforcement) facts.enforcement = route.enforcement;

  // 2–5. Who: a key, else (sessions on) a session token.
  const who = await authenticate(req.headers, deps, facts, { countUsage: true });
  if (who.kind === "refuse") return who;
  if (who.kind === "none") {
    if (route.auth === "public") {
      const override = await overrideRefusal(req, deps, path, route, null, facts);
      if (override) return override;
      return { kind: "forward", path, url, identity: null, preflight, anonymous: true, facts };
    }
    if (hasPassthroughCookie(req, config)) {
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
    const override = await overrideRefusal(req, deps, path, route, { orgs: [who.org], scopes: who.scopes }, facts);
    if (override) return override;
    const now = clock.now();
    await follow(deps, now);
    const org = await orgLimit(deps, decision.value, now, facts);
    if (org?.kind === "refuse") return org;
    const identity: Identity = { method: "session", userId: who.sub, org: decision.value, scopes: who.scopes };
    return {
      kind: "forward",
      path,
      url,
      identity,
      preflight,
      anonymous: false,
      facts,
      ...(org ? { headers: org.headers } : {}),
    };
  }

  const { record, now } = who;
  const outside = ipRefusal(record, req.headers, facts);
  if (outside) return outside;
  const decision = authorize(record, route, config, req.headers);
  if (!decision.ok) return forbidden(facts, decision, route);
  facts.org = decision.value;
  facts.usage!.org = decision.value;
  const override = await overrideRefusal(req, deps, path, route, record, facts);
  if (override) return override;

  const org = await orgLimit(deps, decision.value, now, facts);
  if (org?.kind === "refuse") return org;
  const orgHeaders = org?.headers;

  // The key's own rate limit (exact or regional: its mode): only keys that have one pay the round trip.
  let limitHeaders: Record<string, string> | undefined;
  if (record.rate_limit) {
    const outcome = await keyRateLimit(deps, record);
    if (outcome !== null) {
      limitHeaders = rateLimitHeaders(outcome);
      if (!outcome.allowed) return keyRateLimited(facts, outcome, mergeLimitHeaders(limitHeaders, orgHeaders)!);
    }
  }
  limitHeaders = mergeLimitHeaders(limitHeaders, orgHeaders);

  // Credits (exact; spent from the region's lease; last, so a request refused above spends none).
  if (record.credits) {
    const lowPercent = deps.config.webhooks.creditsLowPercent;
    const spending = await spendCredit(deps.env.KEY_RATE_LIMITER, record.credits, deps.where, lowPercent);
    if (!spending.ok) {
      logLine("error", "credits unavailable: request refused", {
        request_id: deps.requestId,
        key_id: record.id,
        cause: spending.error,
      });
      return refusal(facts, "store_unavailable", { reason: "credits_unavailable" });
    }
    const spent = spending.value;
    // credits.low / credits.exhausted, once per fill: told in waitUntil, never on this request's path.
    if (spent.crossed || spent.later)
      tellCredits(deps.env.WEBHOOKS, deps.waitUntil, record, spent, lowPercent, now, deps.requestId);
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
    ...(notice
      ? {
          fallbackHeaders: {
            sunset: new Date(notice.sunset).toUTCString(),
            deprecation: `@${Math.floor(notice.deprecation / 1000)}`,
          },
        }
      : {}),
  };
}

/**
 * A form POST whose body could override its method to one the route table refuses this
 * caller (routes/method-override.ts): after authorization, before limits and credits, so
 * a refused request spends nothing. Nothing is read unless ROUTES is set and it could gain.
 */
async function overrideRefusal(
  req: Request,
  deps: AdmitDeps,
  path: string,
  route: Route,
  grant: Grant | null,
  facts: Facts,
): Promise<Refusal | null> {
  const { config } = deps;
  if (req.method !== "POST" || config.routes.length === 0) return null;
  const caller: Caller =
    grant === null ? { kind: "anonymous", passthrough: hasPassthroughCookie(req, config) } : { kind: "grant", grant };
  const r = await formOverrideRefusal(req, config, path, route, caller);
  return r === null ? null : refusal(facts, r.code, { detail: r.detail, reason: r.reason });
}

/** SESSION_PASSTHROUGH_COOKIE is set and the request carries that cookie. */
function hasPassthroughCookie(req: Request, config: AdmitDeps["config"]): boolean {
  return config.passthroughCookie !== null && cookieOf(req.headers.get("cookie"), config.passthroughCookie) !== null;
}

function forbidden(facts: Facts, decision: Extract<Decision, { ok: false }>, route: Route): Refusal {
  const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
  return refusal(facts, code, { detail: decision.detail, reason: decision.code });
}
