/**
 * The management plane's one Hono app: request id → access log → body settling → config
 * (fail closed) → usage → the web console (`{ADMIN_PREFIX}/ui`, or the whole of
 * CONSOLE_HOST), the admin API or the self-service API. It also answers every request of a
 * misconfigured gateway (500, from the config step). `managementPathOf` says which
 * requests are its own; src/index.ts sends it those and every other request to the edge.
 */

import type { MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Config } from "../config/config";
import { ConfigError, configFor } from "../config/config";
import type { ProfileName } from "../config/profiles";
import { PROFILES } from "../config/profiles";
import { renderFailure, writeAccessLog } from "../edge/gateway/respond";
import { locator } from "../edge/location";
import { normalizedPathOf } from "../edge/routes/normalize";
import { countRequest } from "../edge/usage/counter";
import type { Env } from "../env";
import { renderError } from "../errors/render";
import { logLine } from "../lib/log";
import { ADMIN_MOUNT, admin } from "./admin/api";
import { adminPath } from "./admin/prefix";
import { consoleApp } from "./console/ui";
import { settleUnreadBody } from "./http/body";
import type { AppEnv } from "./http/context";
import { LEAKS_MOUNT, leaks } from "./leak-intake/api";
import { SELF_SERVICE_MOUNT, selfService } from "./self-service/api";

const accessLog: MiddlewareHandler<AppEnv> = async function accessLog(c, next) {
  const started = Date.now();
  c.set("log", {});
  await next();
  writeAccessLog(c.req.raw, c.get("requestId"), c.get("log"), c.res.status, started);
};

/** Usage of the requests this app answers with a known key or session (the self-service API): edge/usage/counter.ts. */
const countUsage: MiddlewareHandler<AppEnv> = async function countUsage(c, next) {
  await next();
  countRequest(
    c.env,
    (p) => c.executionCtx.waitUntil(p),
    c.get("config").usageFlushMs,
    c.get("log"),
    c.res.status,
    locator(c.req.raw),
  );
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
      {
        errorFormat: preset?.errorFormat ?? "problem",
        missingStatus: 401,
        challenge: "",
        requestId: c.get("requestId"),
      },
      "misconfigured",
    );
  }
  c.set("config", config);
  await next();
};

/**
 * Whether a request is the management plane's, on its normalized path (see
 * admin/prefix.ts): ADMIN_MOUNT + the rest for a request under ADMIN_PREFIX,
 * SELF_SERVICE_MOUNT + the rest for one under SELF_SERVICE_PATH — the path this app routes
 * on — or null: the edge's (the gateway, src/index.ts). So the
 * configured prefix decides, per environment, and no spelling of a path can reach the
 * admin or self-service routes without being under their path, or reach the gateway
 * while under one. A path that does not normalize is the gateway's to refuse.
 *
 * The web console: CONSOLE_MOUNT + the rest, for a request under `{ADMIN_PREFIX}/ui`
 * when CONSOLE_HOST is unset; when it is set, for every request to that host (whatever
 * its path: nothing else answers there, nothing there is forwarded) and for no other.
 */
export function managementPathOf(request: Request, config: Config): string | null {
  const normalized = normalizedPathOf(request);
  if (config.consoleHost !== null && hostnameOf(request.url) === config.consoleHost) {
    // The console's own host: the console, at its root, and nothing else (never the gateway).
    const path = normalized.ok ? adminPath(ROOT_PREFIX, normalized.path)! : "/(invalid)";
    return path === "/" ? CONSOLE_MOUNT : CONSOLE_MOUNT + path;
  }
  if (!normalized.ok) return null;
  const rest = adminPath(config.admin, normalized.path);
  // Without CONSOLE_HOST the console is {ADMIN_PREFIX}/ui on every host; with it, /ui is
  // nothing special here: the admin API answers it like any path it does not have.
  if (rest !== null && config.consoleHost === null && (rest === "/ui" || rest.startsWith("/ui/")))
    return CONSOLE_MOUNT + rest.slice("/ui".length);
  // The leak intake (manage/leak-intake/api.ts): its own authentication (GitHub's signature,
  // LEAK_REPORT_TOKEN or an admin token), not the admin API's gate.
  if (rest !== null && (rest === "/leaks" || rest.startsWith("/leaks/")))
    return LEAKS_MOUNT + rest.slice("/leaks".length);
  if (rest !== null) return ADMIN_MOUNT + rest;
  const own = config.selfService === null ? null : adminPath(config.selfService, normalized.path);
  if (own !== null) return own === "/" ? SELF_SERVICE_MOUNT : SELF_SERVICE_MOUNT + own;
  return null;
}

/** adminPath with no prefix: the path's segments without empty ones or `;params` ("/" for the root). */
const ROOT_PREFIX = { segments: [] } as const;

/** Where the console's routes are mounted; reached only through managementPathOf, like ADMIN_MOUNT. */
const CONSOLE_MOUNT = "/__keygate_console";

/** The host name of an absolute URL, lowercased, without its port (the runtime's request.url). */
export function hostnameOf(url: string): string {
  const start = url.indexOf("//") + 2;
  let end = url.indexOf("/", start);
  if (end < 0) end = url.length;
  const host = url.slice(start, end);
  const close = host.startsWith("[") ? host.indexOf("]") + 1 : -1;
  const colon = host.indexOf(":", Math.max(close, 0));
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase();
}

/** Hono's getPath: only admin, console and self-service requests reach the app with a valid config. */
function routingPath(request: Request, options?: { env?: Env }): string {
  const config = options?.env ? configFor(options.env) : undefined;
  if (config === undefined || config instanceof ConfigError) return "/"; // loadConfig answers 500
  return managementPathOf(request, config) ?? "/";
}

const app = new Hono<AppEnv>({ getPath: routingPath });
// The request id is always the gateway's own (a UUID): a client-chosen x-request-id must
// not become the id in logs, audit records, the origin's header or the signature. The
// client's value, if well-formed, travels separately as x-client-request-id (see
// edge/proxy/headers.ts). headerName "" stops Hono from reading (or echoing) any header.
app.use(requestId({ headerName: "", generator: () => crypto.randomUUID() }));
app.use(accessLog);
// A body the management side answers without reading (an early 401, a 413…) is drained or
// its connection closed, never left to wedge the next request on it (manage/http/body.ts).
app.use(settleUnreadBody<AppEnv>());
app.use(loadConfig);
app.use(countUsage);
app.route(CONSOLE_MOUNT, consoleApp); // the web console: {ADMIN_PREFIX}/ui, or the root of CONSOLE_HOST
app.route(ADMIN_MOUNT, admin);
app.route(SELF_SERVICE_MOUNT, selfService);
app.route(LEAKS_MOUNT, leaks);
app.onError((err, c) => {
  const config = c.get("config");
  if (!config) {
    logLine("error", "unhandled error", { request_id: c.get("requestId"), error: String(err) });
    return renderError(
      { errorFormat: "problem", missingStatus: 401, challenge: "", requestId: c.get("requestId") ?? "" },
      "internal_error",
    );
  }
  return renderFailure(err, config, c.get("requestId"), c.get("log"));
});

export default app;
