/**
 * The gateway's Hono handler, in Hono's factory style: `createGateway(config)` checks what
 * it needs of the configuration once and returns the named handler `gateway`, which is
 * parse → admit (admit.ts) → forward (with trusted identity headers, proxy/headers.ts
 * strips the rest; signed when ORIGIN_SIGNING_SECRET is set) or render the refusal. The
 * access-log fields come from the Admission, in one place (respond.ts logAdmission).
 * Usage is counted after the answer (usage/middleware.ts).
 */
import type { Context, Handler } from "hono";
import type { AppEnv } from "../app-env";
import { clock } from "../clock";
import type { Config } from "../config";
import { logLine } from "../log";
import { forward, targetUrl } from "../proxy/forward";
import { forwardedSearch, upstreamHeaders } from "../proxy/headers";
import { coveredHeaders, signatureHeader, SIGNATURE_HEADER } from "../../verifier/index.js";
import { admit } from "./admit";
import type { AdmitDeps, Forward } from "./admit";
import type { IsolateState } from "./isolate";
import { isolateOf } from "./isolate";
import { logAdmission, renderRefusal } from "./respond";

type Ctx = Context<AppEnv>;
// Per-request variables are read with c.get(): Hono's `c.var` getter copies every
// variable into a new object on each access (docs/performance.md).

export interface GatewayDeps {
  /** This isolate's state for a request's env (default: isolate.ts isolateOf). */
  isolate?: (env: object, config: Config) => IsolateState;
}

const defaultIsolate = (env: object, config: Config): IsolateState => isolateOf(env, config.cache.maxEntries);

export function createGateway(config: Config, deps: GatewayDeps = {}): Handler<AppEnv> {
  const isolate = deps.isolate ?? defaultIsolate;
  return async function gateway(c: Ctx): Promise<Response> {
    const requestId = c.get("requestId");
    const admitDeps: AdmitDeps = { config, env: c.env, isolate: isolate(c.env, config), requestId, waitUntil: (p) => c.executionCtx.waitUntil(p) };
    const admission = await admit(c.req.raw, admitDeps);
    logAdmission(c.get("log"), admission);
    if (admission.kind === "refuse") return renderRefusal(config, requestId, admission);
    return proxy(c.req.raw, config, requestId, admission);
  };
}

const gateways = new WeakMap<Config, Handler<AppEnv>>();

/** The gateway for a config, built once per config object (like config.ts configFor). */
export function gatewayFor(config: Config): Handler<AppEnv> {
  let g = gateways.get(config);
  if (g === undefined) {
    g = createGateway(config);
    gateways.set(config, g);
  }
  return g;
}

async function proxy(req: Request, config: Config, requestId: string, admitted: Forward): Promise<Response> {
  const { url, path, preflight } = admitted;
  const websocket = req.headers.get("upgrade")?.toLowerCase() === "websocket";
  const headers = upstreamHeaders(req.headers, config, {
    requestId,
    clientIp: req.headers.get("cf-connecting-ip"),
    proto: url.protocol.slice(0, -1),
    host: url.host,
    websocket,
    identity: admitted.identity,
    dropCredentials: preflight && admitted.anonymous,
    noBody: preflight,
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
  const res = await forward(target, {
    method: req.method,
    headers,
    body: preflight ? null : req.body,
    timeoutMs: config.upstreamTimeoutMs,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    onIdleTimeout: () => logLine("error", "upstream body stalled: stream cut", { request_id: requestId, idle_timeout_ms: config.upstreamIdleTimeoutMs }),
  });
  if (res.status !== 101) {
    // Ours, always: the one id the logs, the origin's header and the signature carry.
    res.headers.set("x-request-id", requestId);
    if (admitted.headers) for (const name in admitted.headers) res.headers.set(name, admitted.headers[name]!);
    // Values the origin sent itself are kept (Sunset, Deprecation).
    if (admitted.fallbackHeaders) for (const name in admitted.fallbackHeaders) if (!res.headers.has(name)) res.headers.set(name, admitted.fallbackHeaders[name]!);
  }
  return res;
}
