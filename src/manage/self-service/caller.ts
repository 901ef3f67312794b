/**
 * Who calls the self-service API: the gateway's own authentication, the same steps
 * (edge/auth/authenticate.ts `authenticate`) — the profile's credential sources
 * (edge/auth/credentials.ts), the per-IP failed-authentication budget (edge/abuse/auth-failures.ts),
 * verification through the isolate's key cache (edge/auth/verify.ts: unknown, revoked, disabled,
 * expired) or, without a key, a session (edge/auth/session.ts) when sessions are on — then the
 * key's own restrictions as on a forwarded path (edge/abuse/limits.ts): its IP allowlist (`ipRefusal`), the org
 * rule (edge/auth/authorize.ts: the key's org, or in the artanis profile the client's
 * `x-org-slug`, which must be one of the key's orgs), its rate limit (`keyRateLimit`) and
 * its credits (a key at zero is refused with the gateway's 429; a self-service call spends
 * none). A request the gateway would refuse is refused here with the same answer, and a
 * failed authentication counts against the client's budget exactly as on a forwarded path.
 *
 * The caller is a principal (manage/principal.ts): a key holder, or a session.
 */
import { creditLeft } from "../../edge/abuse/credits";
import { rateLimitHeaders } from "../../edge/abuse/key-rate-limiter";
import { ipRefusal, keyRateLimit, keyRateLimited, noCredits } from "../../edge/abuse/limits";
import type { AdmitDeps, Facts } from "../../edge/admission";
import { refusal } from "../../edge/admission";
import { authenticate } from "../../edge/auth/authenticate";
import { authorize } from "../../edge/auth/authorize";
import { bearerSessionOf } from "../../edge/auth/session";
import { isolateOf } from "../../edge/gateway/isolate";
import { logFacts } from "../../edge/gateway/respond";
import { locator } from "../../edge/location";
import type { Route } from "../../edge/routes/table";
import { logLine } from "../../lib/log";
import type { Ctx } from "../http/context";
import { refuse } from "../http/context";
import type { CredentialHolder } from "../principal";

/**
 * The caller of a self-service request, or the response refusing it (in the profile's
 * shape). `scope`: SELF_SERVICE_SCOPE, which the caller must hold (else the profile's 403).
 */
export async function resolveCaller(c: Ctx, scope: string | null): Promise<CredentialHolder | Response> {
  const config = c.get("config");
  const deps: AdmitDeps = {
    config,
    env: c.env,
    isolate: isolateOf(c.env, config.cache.maxEntries),
    requestId: c.get("requestId"),
    waitUntil: (p) => c.executionCtx.waitUntil(p),
    where: locator(c.req.raw),
  };
  const facts: Facts = {};
  // A key first, else (sessions on) a session token, as on forwarded paths: so
  // `Authorization: Bearer <jwt>` is a session and a key in Bearer is still a key.
  // Usage counts gateway requests only: a self-service call is not counted.
  const who = await authenticate(c.req.raw.headers, deps, facts, { countUsage: false });
  if (who.kind === "refuse") return refuse(c, who);
  if (who.kind === "none") return refuse(c, refusal(facts, "missing_credential"));
  logFacts(c.get("log"), facts);
  const route = selfServiceRoute(config.selfService!.path, scope);

  if (who.kind === "session") {
    const forged = crossOriginCookie(c);
    if (forged) return refuse(c, refusal(facts, "forbidden", { detail: forged, reason: "cross_origin_session" }));
    const decision = authorize({ orgs: [who.org], scopes: who.scopes }, route, config, c.req.raw.headers, "session");
    if (!decision.ok) return refuse(c, refusal({}, decision.code, { detail: decision.detail, reason: decision.code }));
    c.get("log").org = decision.value;
    return { kind: "session", sub: who.sub, org: decision.value, scopes: who.scopes };
  }

  const { record, now } = who;
  const outside = ipRefusal(record, c.req.raw.headers, facts);
  if (outside) return refuse(c, outside);
  const decision = authorize(record, route, config, c.req.raw.headers);
  if (!decision.ok) return refuse(c, refusal({}, decision.code, { detail: decision.detail, reason: decision.code }));
  c.get("log").org = decision.value;
  // The key's own rate limit, as on forwarded paths: a key cannot mint keys faster than it may call the API.
  let headers: Record<string, string> | undefined;
  if (record.rate_limit) {
    const outcome = await keyRateLimit(deps, record);
    if (outcome !== null) {
      headers = rateLimitHeaders(outcome);
      if (!outcome.allowed) return refuse(c, keyRateLimited(facts, outcome, headers));
    }
  }
  // Credits at zero: refused like a gateway call (fail closed when they cannot be asked).
  if (record.credits) {
    const left = await creditLeft(c.env.KEY_RATE_LIMITER, record.credits);
    if (!left.ok) {
      logLine("error", "credits unavailable: request refused", {
        request_id: deps.requestId,
        key_id: record.id,
        cause: left.error,
      });
      return refuse(c, refusal(facts, "store_unavailable", { reason: "credits_unavailable" }));
    }
    if (!left.value.allowed) return refuse(c, noCredits(facts, record, now, headers));
  }
  return { kind: "key", org: decision.value, record };
}

/**
 * A change (not GET or HEAD) by a session that came in a cookie, sent from another origin:
 * the browser attaches the cookie to any page's request — a `fetch(…, {mode: "no-cors",
 * credentials: "include"})` from another site (when the cookie is SameSite=None) or from
 * any other subdomain of the same site (whatever its SameSite) regenerates a key without a
 * preflight. A browser says where a request comes from (`Origin`, `Sec-Fetch-Site`): a
 * cookie session changes keys only from this origin's own pages. Bearer sessions and keys
 * are sent by the caller's code, never attached by a browser: not concerned. Null when the
 * request may go on; else why not.
 */
function crossOriginCookie(c: Ctx): string | null {
  const method = c.req.method;
  if (method === "GET" || method === "HEAD") return null;
  const headers = c.req.raw.headers;
  if (bearerSessionOf(headers.get("authorization")) !== null) return null;
  const site = headers.get("sec-fetch-site");
  const origin = headers.get("origin");
  const own = new URL(c.req.url).origin;
  if ((site === null || site === "same-origin" || site === "none") && (origin === null || origin === own)) return null;
  return "A session cookie may change keys only from this site's own pages (the request came from another origin).";
}

/** The route the self-service API is authorized as: any key of the org, plus SELF_SERVICE_SCOPE. */
function selfServiceRoute(path: string, scope: string | null): Route {
  return {
    path,
    methods: null,
    auth: "key",
    scopes: scope === null ? [] : [scope],
    hide: false,
    segments: [],
    rest: true,
  };
}
