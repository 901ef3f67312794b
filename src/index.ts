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
 * - The Cron Trigger (`scheduled`): key.expiring for the webhooks (manage/expiry-notices.ts).
 *
 * Besides the handler, only the Durable Object classes are exported (wrangler dev refuses a
 * main module that exports anything else).
 */
import { ConfigError, configFor } from "./config/config";
import { gatewayFor } from "./edge/gateway/handler";
import type { Env } from "./env";
import { clock } from "./lib/clock";
import { logLine } from "./lib/log";
import app, { managementPathOf } from "./manage/app";
import { expiryNotices } from "./manage/expiry-notices";

export { ConsoleSessions, KeyRateLimiter, RevocationFeed, ShadowStore, UsageStore, WebhookHub } from "./objects";

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const config = configFor(env);
    if (!(config instanceof ConfigError) && managementPathOf(request, config) === null)
      return gatewayFor(config)(request, env, ctx);
    return Promise.resolve(app.fetch(request, env, ctx));
  },
  /** The Cron Trigger (wrangler.toml [triggers]): key.expiring for the webhooks (manage/expiry-notices.ts). */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const config = configFor(env);
    if (config instanceof ConfigError) {
      logLine("error", "invalid configuration: scheduled run skipped", { variable: config.variable });
      return;
    }
    ctx.waitUntil(
      expiryNotices(env, config, clock.now()).then(
        () => undefined,
        (err: unknown) =>
          logLine("error", "key.expiring run failed (the next run tries again)", {
            cause: err instanceof Error ? err.message : String(err),
          }),
      ),
    );
  },
} satisfies ExportedHandler<Env>;
