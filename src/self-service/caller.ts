/**
 * Who calls the self-service API: the gateway's own authentication, unchanged — the
 * profile's credential sources (auth/credentials.ts), the per-IP failed-authentication
 * budget (abuse/auth-failures.ts), verification through the isolate's key cache
 * (auth/verify.ts) and the org rule (auth/authorize.ts: the key's org, or in the artanis
 * profile the client's `x-org-slug`, which must be one of the key's orgs), and the key's
 * own rate limit (abuse/key-rate-limiter.ts), if it has one. A request the
 * gateway would refuse is refused here with the same answer, and a failed authentication
 * counts against the client's budget exactly as on a forwarded path.
 */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { blockedFor, clientKey } from "../abuse/auth-failures";
import { checkKeyRateLimit, rateLimitHeaders } from "../abuse/key-rate-limiter";
import { authorize } from "../auth/authorize";
import { extractCredential } from "../auth/credentials";
import { keyCache, verifyKey } from "../auth/verify";
import { clock } from "../clock";
import { accountUse, keyRateLimited, refuseCredential, reject, tooManyFailures } from "../gateway";
import { logLine } from "../log";
import type { Route } from "../routes/table";

type Ctx = Context<AppEnv>;

/** An authenticated self-service caller: the one org it acts for, what it may grant, who it is. */
export interface Caller {
  org: string;
  scopes: readonly string[];
  /** For audit events: `key:<id>` (or, once sessions are merged, `session:<sub>`). */
  actor: string;
}

/**
 * The audit actor kind for a key ("key:<id>"; issue 11 names root, token:<id>, key:<id>,
 * session:<sub>). A constant, not a literal: "key:" also starts KV key names, which only
 * keys/store.ts may build (test/admin/storage-doc.test.ts), and this is not one.
 */
const ACTOR_KIND_KEY = "key";

/** Who presented what, before the org and scope rules: a key's orgs and scopes, or a session's. */
interface Identity {
  orgs: readonly string[];
  scopes: readonly string[];
  actor: string;
}

/** The key path: a verified, usable key of the request, or the gateway's refusal. */
async function identifyByKey(c: Ctx): Promise<Identity | Response> {
  const config = c.get("config");
  const log = c.get("log");
  const req = c.req.raw;
  const credential = extractCredential(req.headers, config.sources);
  if (credential.kind === "missing") return reject(c, "missing_credential");
  const client = clientKey(req.headers.get("cf-connecting-ip"));
  if (client !== null) {
    const wait = blockedFor(client, clock.now());
    if (wait > 0) return tooManyFailures(c, wait);
  }
  if (credential.kind === "malformed") {
    return refuseCredential(c, client, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  }
  const now = clock.now();
  const verdict = await verifyKey(credential.key, { kv: c.env.KEYS, cache: keyCache(config.cache.maxEntries), config, now });
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
  return { orgs: verdict.record.orgs, scopes: verdict.record.scopes, actor: `${ACTOR_KIND_KEY}:${verdict.record.id}` };
}

/**
 * The caller of a self-service request, or the response refusing it (in the profile's
 * shape). `scope`: SELF_SERVICE_SCOPE, which the caller must hold (else the profile's 403).
 */
export async function resolveCaller(c: Ctx, scope: string | null): Promise<Caller | Response> {
  const config = c.get("config");

  // ── MERGE POINT (sessions, src/auth/session.ts) ─────────────────────────────────────
  // A session is tried before the key, as the gateway does, so `Authorization: Bearer
  // <jwt>` is a session and a key in Bearer is still a key:
  //
  //   const token = sessionTokenOf(c.req.raw.headers, config.session);
  //   if (token !== null) {
  //     const client = clientKey(c.req.raw.headers.get("cf-connecting-ip"));
  //     if (client !== null && blockedFor(client, clock.now()) > 0) return tooManyFailures(c, blockedFor(client, clock.now()));
  //     const s = await verifySession(token, config.session, clock.now());
  //     if (s.kind === "invalid") return refuseCredential(c, client, "invalid_key", { reason: s.reason });
  //     identity = { orgs: [s.org], scopes: s.scopes, actor: `session:${s.sub}` };
  //   }
  //
  // Everything below (org rule, SELF_SERVICE_SCOPE, scope ceilings, audit actor) then
  // applies to sessions unchanged.
  // ─────────────────────────────────────────────────────────────────────────────────────
  const identity = await identifyByKey(c);
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
