/**
 * keygate's Hono app, wiring only: request id → access log → config (fail closed) → the
 * admin API (paths under ADMIN_PREFIX) or the gateway (every other path). The Worker's
 * entry module is index.ts.
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import { admin, ADMIN_MOUNT } from "./admin/app";
import { adminPath } from "./admin/prefix";
import type { AppEnv } from "./app-env";
import { consoleRoutes } from "./console/app";
import { configFor, ConfigError } from "./config";
import type { Env } from "./config";
import { GatewayError } from "./errors/codes";
import { renderError } from "./errors/render";
import { gatewayFor, reject } from "./gateway";
import { logLine } from "./log";
import { PROFILES } from "./profiles";
import { clientRequestId } from "./proxy/headers";
import { selfService, SELF_SERVICE_MOUNT } from "./self-service/app";
import type { ProfileName } from "./profiles";
import { normalizedPathOf } from "./routes/normalize";
import { countUsage } from "./usage/middleware";

/** Longest path written to a log line: a client chooses it (up to the platform's URL limit). */
const MAX_LOGGED_PATH = 512;
const bounded = (path: string) => (path.length > MAX_LOGGED_PATH ? path.slice(0, MAX_LOGGED_PATH) + "…" : path);

const accessLog: MiddlewareHandler<AppEnv> = async function accessLog(c, next) {
  const started = Date.now();
  c.set("log", {});
  await next();
  const log = c.get("log");
  logLine(c.res.status >= 500 ? "error" : "info", "request", {
    request_id: c.get("requestId"),
    client_request_id: clientRequestId(c.req.raw.headers),
    method: c.req.method,
    path: bounded(log.path ?? "(invalid)"),
    route: log.route ?? null,
    status: c.res.status,
    latency_ms: Date.now() - started,
    key_id: log.key_id ?? null,
    auth: log.auth ?? null,
    user_id: log.user_id ?? null,
    org: log.org ?? null,
    cache: log.cache ?? null,
    outcome: log.outcome ?? null,
    reason: log.reason ?? null,
  });
};

const loadConfig: MiddlewareHandler<AppEnv> = async function loadConfig(c, next) {
  const config = configFor(c.env);
  if (config instanceof ConfigError) {
    logLine("error", "invalid configuration: every request is refused until it is fixed", {
      request_id: c.get("requestId"),
      variable: config.variable,
      problem: config.message,
    });
    c.get("log").outcome = "rejected";
    c.get("log").reason = "misconfigured";
    const preset = PROFILES[String(c.env.AUTH_PROFILE ?? "").toLowerCase() as ProfileName];
    return renderError(
      { errorFormat: preset?.errorFormat ?? "problem", missingStatus: 401, challenge: "", requestId: c.get("requestId") },
      "misconfigured",
    );
  }
  c.set("config", config);
  await next();
};

/**
 * The path Hono routes on: ADMIN_MOUNT + the rest for a request under ADMIN_PREFIX
 * (matched on the normalized path, see admin/prefix.ts), SELF_SERVICE_MOUNT + the rest
 * for one under SELF_SERVICE_PATH (the same matching), "/" for everything else. So the
 * configured prefix decides, per environment, and no spelling of a path can reach the
 * admin or self-service routes without being under their path, or reach the gateway
 * while under one.
 */
function routingPath(request: Request, options?: { env?: Env }): string {
  const config = options?.env ? configFor(options.env) : undefined;
  if (config === undefined || config instanceof ConfigError) return "/"; // loadConfig answers 500
  const normalized = normalizedPathOf(request);
  if (!normalized.ok) return "/";
  const rest = adminPath(config.admin, normalized.path);
  if (rest !== null) return ADMIN_MOUNT + rest;
  const own = config.selfService === null ? null : adminPath(config.selfService, normalized.path);
  if (own !== null) return own === "/" ? SELF_SERVICE_MOUNT : SELF_SERVICE_MOUNT + own;
  return "/";
}

const app = new Hono<AppEnv>({ getPath: routingPath });
// The request id is always the gateway's own (a UUID): a client-chosen x-request-id must
// not become the id in logs, audit records, the origin's header or the signature. The
// client's value, if well-formed, travels separately as x-client-request-id (see
// proxy/headers.ts). headerName "" stops Hono from reading (or echoing) any header.
app.use(requestId({ headerName: "", generator: () => crypto.randomUUID() }));
app.use(accessLog);
app.use(loadConfig);
app.use(countUsage);
app.route(ADMIN_MOUNT + "/ui", consoleRoutes); // the web console (before the admin API: no Bearer there)
app.route(ADMIN_MOUNT, admin);
app.route(SELF_SERVICE_MOUNT, selfService);
// The gateway is built once per config (gateway/handler.ts createGateway), like the config itself.
app.all("/", function gateway(c, next) {
  return gatewayFor(c.get("config"))(c, next);
});
app.onError((err, c) => {
  if (!c.get("config")) {
    logLine("error", "unhandled error", { request_id: c.get("requestId"), error: String(err) });
    return renderError({ errorFormat: "problem", missingStatus: 401, challenge: "", requestId: c.get("requestId") ?? "" }, "internal_error");
  }
  if (err instanceof GatewayError) {
    if (err.code === "upstream_unreachable" || err.code === "internal_error") {
      logLine("error", err.code, { request_id: c.get("requestId"), cause: String((err.cause as Error | undefined)?.message ?? err.message) });
    }
    return reject(c, err.code, err.detail === undefined ? {} : { detail: err.detail });
  }
  logLine("error", "unhandled error", { request_id: c.get("requestId"), error: err instanceof Error ? err.message : String(err) });
  return reject(c, "internal_error");
});

export default app;
