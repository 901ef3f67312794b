/**
 * The Worker's entry: which plane a request goes to.
 *
 * - The edge (edge/): every request outside the admin API, the web console and the
 *   self-service API goes straight to the gateway built for this config — the hot path,
 *   with no middleware chain and no per-request Hono context: admit → forward or refuse.
 * - The management plane (manage/): requests under ADMIN_PREFIX (the admin API and, without
 *   CONSOLE_HOST, the console at `{ADMIN_PREFIX}/ui`), under SELF_SERVICE_PATH, or to
 *   CONSOLE_HOST — `managementPathOf` decides — go to its Hono app, which also answers
 *   every request while the configuration is invalid (500, fail closed).
 *
 * Besides the handler, only the Durable Object classes are exported (wrangler dev refuses a
 * main module that exports anything else).
 */
import { ConfigError, configFor } from "./config/config";
import { gatewayFor } from "./edge/gateway/handler";
import type { Env } from "./env";
import app, { managementPathOf } from "./manage/app";

export { ConsoleSessions, KeyRateLimiter, RevocationFeed, ShadowStore, UsageStore } from "./objects";

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const config = configFor(env);
    if (!(config instanceof ConfigError) && managementPathOf(request, config) === null)
      return gatewayFor(config)(request, env, ctx);
    return Promise.resolve(app.fetch(request, env, ctx));
  },
} satisfies ExportedHandler<Env>;
