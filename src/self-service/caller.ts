/**
 * Who calls the self-service API: the gateway's own authentication, unchanged — the
 * profile's credential sources (auth/credentials.ts), the per-IP failed-authentication
 * budget (abuse/auth-failures.ts), verification through the isolate's key cache
 * (auth/verify.ts) and the org rule (auth/authorize.ts: the key's org, or in the artanis
 * profile the client's `x-org-slug`, which must be one of the key's orgs), and the key's
 * own rate limit (abuse/key-rate-limiter.ts), if it has one; without a key, a session
 * (auth/session.ts) when sessions are on. A request the
 * gateway would refuse is refused here with the same answer, and a failed authentication
 * counts against the client's budget exactly as on a forwarded path.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { blockedFor, clientKey } from "../abuse/auth-failures";
import { checkKeyRateLimit, rateLimitHeaders } from "../abuse/key-rate-limiter";
import { authorize } from "../auth/authorize";
import { extractCredential } from "../auth/credentials";
import { JWKS_UNAVAILABLE, sessionTokenOf, verifySession } from "../auth/session";
import { verifyKey } from "../auth/verify";
import { clock } from "../clock";
import { actor } from "../keys/store";
import { accountUse, currentIsolate, keyRateLimited, refuseCredential, reject, tooManyFailures } from "../gateway";
import { logLine } from "../log";
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
  const log = c.get("log");
  const req = c.req.raw;
  const credential = extractCredential(req.headers, config.sources, config.session !== null);
  const sessionToken = credential.kind === "missing" && config.session !== null ? sessionTokenOf(req.headers, config.session) : null;
  if (credential.kind === "missing" && sessionToken === null) return reject(c, "missing_credential");
  const client = clientKey(req.headers.get("cf-connecting-ip"));
  if (client !== null) {
    const wait = blockedFor(client, clock.now());
    if (wait > 0) return tooManyFailures(c, wait);
  }
  if (credential.kind === "missing") {
    log.auth = "session";
    const session = await verifySession(sessionToken!, config.session!, clock.now());
    if (session.kind === "invalid") {
      if (session.reason === JWKS_UNAVAILABLE) return reject(c, "store_unavailable", { reason: `session_${JWKS_UNAVAILABLE}` });
      return refuseCredential(c, client, "invalid_key", { reason: `session_${session.reason}` });
    }
    log.user_id = session.sub;
    return { orgs: [session.org], scopes: session.scopes, actor: actor.session(session.sub) };
  }
  log.auth = "key";
  if (credential.kind === "malformed") {
    return refuseCredential(c, client, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  }
  const now = clock.now();
  const isolate = await currentIsolate(c, now);
  const verdict = await verifyKey(credential.key, { kv: c.env.KEYS, cache: isolate.cache, config, now, overrides: isolate.feed.overrides });
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: c.get("requestId"), cause: verdict.cause });
    return reject(c, "store_unavailable");
  }
  log.cache = verdict.tier;
  if (verdict.kind === "unknown") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  log.key_id = verdict.record.id;
  if (verdict.kind === "denied") return refuseCredential(c, client, "invalid_key", { reason: verdict.reason });
  accountUse(c, verdict.record, now);
  // The key's own rate limit, as on forwarded paths: a key cannot mint keys faster than it may call the API.
  const limit = verdict.record.rate_limit;
  if (limit) {
    const outcome = await checkKeyRateLimit(c.env.KEY_RATE_LIMITER, verdict.record.id, limit);
    if ("error" in outcome) {
      logLine("error", "key rate limiter unavailable: request let through", { request_id: c.get("requestId"), key_id: verdict.record.id, cause: outcome.error });
    } else if (!outcome.allowed) {
      return keyRateLimited(c, outcome, rateLimitHeaders(outcome));
    }
  }
  return { orgs: verdict.record.orgs, scopes: verdict.record.scopes, actor: actor.key(verdict.record.id) };
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
  if (!decision.ok) return reject(c, decision.code, { detail: decision.detail, reason: decision.code });
  c.get("log").org = decision.org;
  return { org: decision.org, scopes: identity.scopes, actor: identity.actor };
}

/** The route the self-service API is authorized as: any key of the org, plus SELF_SERVICE_SCOPE. */
function selfServiceRoute(path: string, scope: string | null): Route {
  return { path, methods: null, auth: "key", scopes: scope === null ? [] : [scope], hide: false, segments: [], rest: true };
}
