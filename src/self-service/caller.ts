/**
 * Who calls the self-service API: the gateway's own authentication, the same steps
 * (gateway/admit.ts `authenticate`) — the profile's credential sources
 * (auth/credentials.ts), the per-IP failed-authentication budget (abuse/auth-failures.ts),
 * verification through the isolate's key cache (auth/verify.ts) or, without a key, a
 * session (auth/session.ts) when sessions are on — then the org rule (auth/authorize.ts:
 * the key's org, or in the artanis profile the client's `x-org-slug`, which must be one
 * of the key's orgs) and the key's own rate limit (gateway/admit.ts `keyRateLimit`), if it
 * has one. A request the gateway would refuse is refused here with the same answer, and
 * a failed authentication counts against the client's budget exactly as on a forwarded path.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { rateLimitHeaders } from "../abuse/key-rate-limiter";
import { authorize } from "../auth/authorize";
import { actor } from "../keys/store";
import { authenticate, keyRateLimit, keyRateLimited, refusal } from "../gateway/admit";
import type { AdmitDeps, Facts } from "../gateway/admit";
import { isolateOf } from "../gateway/isolate";
import { logFacts, refuse } from "../gateway/respond";
import type { Route } from "../routes/table";

type Ctx = Context<AppEnv>;

/** An authenticated self-service caller: the one org it acts for, what it may grant, who it is. */
export interface Caller {
  org: string;
  scopes: readonly string[];
  /** For audit events: `key:<id>` or `session:<sub>` (keys/store.ts `actor`). */
  actor: string;
}

/** Who presented what, before the org and scope rules: a key's orgs and scopes, or a session's. */
interface Identity {
  orgs: readonly string[];
  scopes: readonly string[];
  actor: string;
}

/** A verified, usable key or session of the request, or the gateway's refusal. */
async function identify(c: Ctx): Promise<Identity | Response> {
  const config = c.get("config");
  const deps: AdmitDeps = {
    config,
    env: c.env,
    isolate: isolateOf(c.env, config.cache.maxEntries),
    requestId: c.get("requestId"),
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  };
  const facts: Facts = {};
  // Usage counts gateway requests only: a self-service call is not counted.
  const who = await authenticate(c.req.raw.headers, deps, facts, { countUsage: false });
  if (who.kind === "refuse") return refuse(c, who);
  if (who.kind === "none") return refuse(c, refusal(facts, "missing_credential"));
  logFacts(c.get("log"), facts);
  if (who.kind === "session") return { orgs: [who.org], scopes: who.scopes, actor: actor.session(who.sub) };
  const record = who.record;
  // The key's own rate limit, as on forwarded paths: a key cannot mint keys faster than it may call the API.
  if (record.rate_limit) {
    const outcome = await keyRateLimit(deps, record);
    if (outcome !== null && !outcome.allowed) return refuse(c, keyRateLimited(facts, outcome, rateLimitHeaders(outcome)));
  }
  return { orgs: record.orgs, scopes: record.scopes, actor: actor.key(record.id) };
}

/**
 * The caller of a self-service request, or the response refusing it (in the profile's
 * shape). `scope`: SELF_SERVICE_SCOPE, which the caller must hold (else the profile's 403).
 */
export async function resolveCaller(c: Ctx, scope: string | null): Promise<Caller | Response> {
  const config = c.get("config");

  // A key first, else (sessions on) a session token, as on forwarded paths: so
  // `Authorization: Bearer <jwt>` is a session and a key in Bearer is still a key.
  const identity = await identify(c);
  if (identity instanceof Response) return identity;

  const decision = authorize(identity, selfServiceRoute(config.selfService!.path, scope), config, c.req.raw.headers);
  if (!decision.ok) return refuse(c, refusal({}, decision.code, { detail: decision.detail, reason: decision.code }));
  c.get("log").org = decision.value;
  return { org: decision.value, scopes: identity.scopes, actor: identity.actor };
}

/** The route the self-service API is authorized as: any key of the org, plus SELF_SERVICE_SCOPE. */
function selfServiceRoute(path: string, scope: string | null): Route {
  return { path, methods: null, auth: "key", scopes: scope === null ? [] : [scope], hide: false, segments: [], rest: true };
}
