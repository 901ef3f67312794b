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
import { configFor, ConfigError } from "./config";
import type { Env } from "./config";
import { GatewayError } from "./errors/codes";
import { renderError } from "./errors/render";
import { gateway, reject } from "./gateway";
import { logLine } from "./log";
import { PROFILES } from "./profiles";
import type { ProfileName } from "./profiles";
import { normalizedPathOf } from "./routes/normalize";
import { countUsage } from "./usage/middleware";

const accessLog: MiddlewareHandler<AppEnv> = async function accessLog(c, next) {
  const started = Date.now();
  c.set("log", {});
  await next();
  const log = c.get("log");
  logLine(c.res.status >= 500 ? "error" : "info", "request", {
    request_id: c.get("requestId"),
    method: c.req.method,
    path: log.path ?? "(invalid)",
    route: log.route ?? null,
    status: c.res.status,
    latency_ms: Date.now() - started,
    key_id: log.key_id ?? null,
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
 * (matched on the normalized path, see admin/prefix.ts), "/" for everything else. So the
 * configured prefix decides, per environment, and no spelling of a path can reach the
 * admin routes without being under the prefix, or reach the gateway while under it.
 */
function routingPath(request: Request, options?: { env?: Env }): string {
  const config = options?.env ? configFor(options.env) : undefined;
  if (config === undefined || config instanceof ConfigError) return "/"; // loadConfig answers 500
  const normalized = normalizedPathOf(request);
  const rest = normalized.ok ? adminPath(config.admin, normalized.path) : null;
  return rest === null ? "/" : ADMIN_MOUNT + rest;
}

const app = new Hono<AppEnv>({ getPath: routingPath });
app.use(requestId({ headerName: "x-request-id" }));
app.use(accessLog);
app.use(loadConfig);
app.use(countUsage);
app.route(ADMIN_MOUNT, admin);
app.all("/", gateway);
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
