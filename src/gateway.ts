/**
 * The hot path, in the SPEC's order: route policy on the normalized path → credential
 * extraction → cheap rejection / lookup / record checks (auth/verify.ts) → org and scopes
 * (auth/authorize.ts) → forward with trusted identity headers.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { authorize } from "./auth/authorize";
import { extractCredential } from "./auth/credentials";
import { keyCache, verifyKey } from "./auth/verify";
import { clock } from "./clock";
import type { ErrorCode } from "./errors/codes";
import type { ErrorOptions } from "./errors/render";
import { renderError } from "./errors/render";
import { logLine } from "./log";
import { forward, targetUrl } from "./proxy/forward";
import type { Identity } from "./proxy/headers";
import { upstreamHeaders } from "./proxy/headers";
import { normalizePath } from "./routes/normalize";
import { matchRoute } from "./routes/table";

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

async function proxy(c: Ctx, url: URL, path: string, identity: Identity | null): Promise<Response> {
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
  c.get("log").outcome = "forwarded";
  const res = await forward(targetUrl(config.originBase, path, url.search), {
    method: req.method,
    headers,
    body: req.body,
    timeoutMs: config.upstreamTimeoutMs,
  });
  if (res.status !== 101 && !res.headers.has("x-request-id")) res.headers.set("x-request-id", c.get("requestId"));
  return res;
}

export async function gateway(c: Ctx): Promise<Response> {
  const config = c.get("config");
  const log = c.get("log");
  const req = c.req.raw;
  const url = new URL(req.url);

  // 1. Route policy, on the one normalized path that is also forwarded.
  const normalized = normalizePath(url.pathname);
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
  if (credential.kind === "malformed") return reject(c, "malformed_credential", { detail: `Malformed credential: ${credential.reason}` });
  if (credential.kind === "missing") {
    if (route.auth === "public") return proxy(c, url, path, null);
    return reject(c, "missing_credential");
  }

  // 3–5. Cheap rejection, lookup, record checks.
  const verdict = await verifyKey(credential.key, {
    kv: c.env.KEYS,
    cache: keyCache(config.cache.maxEntries),
    config,
    now: clock.now(),
  });
  if (verdict.kind === "error") {
    logLine("error", "key store failure", { request_id: c.get("requestId"), cause: verdict.cause });
    return reject(c, "store_unavailable");
  }
  log.cache = verdict.tier;
  if (verdict.kind === "unknown") return reject(c, "invalid_key", { reason: verdict.reason });
  const record = verdict.record;
  log.key_id = record.id;
  if (verdict.kind === "denied") return reject(c, "invalid_key", { reason: verdict.reason });

  const decision = authorize(record, route, config, req.headers);
  if (!decision.ok) {
    const code = decision.code === "forbidden" && route.hide ? "not_found" : decision.code;
    return reject(c, code, { detail: decision.detail, reason: decision.code });
  }
  log.org = decision.org;

  // 6. Forward with the trusted identity.
  return proxy(c, url, path, { keyId: record.id, org: decision.org, scopes: record.scopes });
}
