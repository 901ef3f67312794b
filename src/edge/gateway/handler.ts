/**
 * The gateway's request handler, in Hono's factory style: `createGateway(config)` checks
 * what it needs of the configuration once and returns the named fetch handler `gateway`
 * (request, env, ctx), which is admit (admit.ts) → forward (with trusted identity
 * headers, edge/proxy/headers.ts strips the rest; signed when ORIGIN_SIGNING_SECRET is set) or
 * render the refusal → one access-log line, derived from the Admission in one place
 * (respond.ts) → usage counted (edge/usage/counter.ts). In report mode (edge/shadow/) the
 * decision is not enforced: the request is forwarded with its verdict, never refused, and
 * the origin's answer compared with it.
 *
 * The entry (app.ts) hands it every request that is not for the admin API, the console or
 * the self-service API, without going through the Hono app: the hot path pays for no
 * middleware chain and no per-request context (docs/performance.md).
 */

import { coveredHeaders, SIGNATURE_HEADER, signatureHeader } from "../../../verifier/index.js";
import type { Config } from "../../config/config";
import type { Env } from "../../env";
import { clock } from "../../lib/clock";
import { logLine } from "../../lib/log";
import type { Admission, Forward, RequestLog } from "../admission";
import { locator } from "../location";
import { forward, targetUrl } from "../proxy/forward";
import { forwardedSearch, upstreamHeaders } from "../proxy/headers";
import { requestUrlOf } from "../routes/normalize";
import { compareAnswer, isReported, reportOf } from "../shadow/report";
import { countRequest } from "../usage/counter";
import { admit } from "./admit";
import type { IsolateState } from "./isolate";
import { isolateOf } from "./isolate";
import { logAdmission, renderFailure, renderRefusal, writeAccessLog } from "./respond";

/** A Worker's fetch handler, as Hono's `app.fetch` is one. */
export type FetchHandler = (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>;

export interface GatewayDeps {
  /** This isolate's state for a request's env (default: isolate.ts isolateOf). */
  isolate?: (env: object, config: Config) => IsolateState;
}

const defaultIsolate = (env: object, config: Config): IsolateState => isolateOf(env, config.cache.maxEntries);

export function createGateway(config: Config, deps: GatewayDeps = {}): FetchHandler {
  const isolate = deps.isolate ?? defaultIsolate;
  return async function gateway(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const started = Date.now();
    // Always the gateway's own id (a client's x-request-id travels as x-client-request-id).
    const requestId = crypto.randomUUID();
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
    const where = locator(request);
    const log: RequestLog = {};
    let res: Response;
    try {
      const admission = await admit(request, {
        config,
        env,
        isolate: isolate(env, config),
        requestId,
        waitUntil,
        where,
      });
      logAdmission(log, admission);
      if (isReported(config, admission))
        res = await reported(request, config, env, requestId, admission, log, waitUntil);
      else
        res =
          admission.kind === "refuse"
            ? renderRefusal(config, requestId, admission)
            : await proxy(request, config, requestId, admission);
    } catch (err) {
      res = renderFailure(err, config, requestId, log);
    }
    writeAccessLog(request, requestId, log, res.status, started);
    countRequest(env, waitUntil, config.usageFlushMs, log, res.status, where);
    return res;
  };
}

const gateways = new WeakMap<Config, FetchHandler>();

/** The gateway for a config, built once per config object (like config/config.ts configFor). */
export function gatewayFor(config: Config): FetchHandler {
  let g = gateways.get(config);
  if (g === undefined) {
    g = createGateway(config);
    gateways.set(config, g);
  }
  return g;
}

/**
 * Report mode (edge/shadow/report.ts): whatever the decision, the request is forwarded —
 * on its normalized path, or as received when it had none — with keygate's verdict
 * instead of an identity and the client's own credential; the origin's answer is compared
 * with the decision, counted, and returned untouched.
 */
async function reported(
  req: Request,
  config: Config,
  env: Env,
  requestId: string,
  admission: Admission,
  log: RequestLog,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Response> {
  const report = reportOf(config, admission);
  const url = requestUrlOf(req);
  const as: Forward =
    admission.kind === "forward"
      ? admission
      : {
          kind: "forward",
          path: admission.facts.path ?? url.pathname,
          url,
          identity: null,
          preflight: false,
          anonymous: false,
          facts: admission.facts,
        };
  const res = await proxy(req, config, requestId, as, report.verdict);
  log.outcome = "forwarded";
  return compareAnswer(res, report, { env, config, requestId, method: req.method, path: as.path, log, waitUntil });
}

/** Forward an admitted request; with `verdict` (report mode) it vouches for nothing and keeps the client's credential. */
async function proxy(
  req: Request,
  config: Config,
  requestId: string,
  admitted: Forward,
  verdict?: string,
): Promise<Response> {
  const { url, path, preflight } = admitted;
  const websocket = req.headers.get("upgrade")?.toLowerCase() === "websocket";
  const headers = upstreamHeaders(req.headers, config, {
    requestId,
    clientIp: req.headers.get("cf-connecting-ip"),
    proto: url.protocol.slice(0, -1),
    host: url.host,
    websocket,
    identity: admitted.identity,
    dropCredentials: verdict === undefined && preflight && admitted.anonymous,
    noBody: preflight,
    ...(verdict !== undefined ? { verdict } : {}),
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
    onIdleTimeout: () =>
      logLine("error", "upstream body stalled: stream cut", {
        request_id: requestId,
        idle_timeout_ms: config.upstreamIdleTimeoutMs,
      }),
  });
  if (res.status !== 101) {
    // Ours, always: the one id the logs, the origin's header and the signature carry.
    res.headers.set("x-request-id", requestId);
    // Report mode: the origin's answer, with nothing of an enforcement keygate did not do.
    if (verdict !== undefined) return res;
    if (admitted.headers) for (const name in admitted.headers) res.headers.set(name, admitted.headers[name]!);
    // Values the origin sent itself are kept (Sunset, Deprecation).
    if (admitted.fallbackHeaders)
      for (const name in admitted.fallbackHeaders)
        if (!res.headers.has(name)) res.headers.set(name, admitted.fallbackHeaders[name]!);
  }
  return res;
}
