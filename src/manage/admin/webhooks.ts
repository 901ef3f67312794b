/**
 * Admin endpoints for webhooks (docs/webhooks.md):
 *
 *   POST   /webhooks                  {"url", "events": [...], "orgs"?: [...]} → 201 {"id", "secret": "whsec_…", …}
 *   GET    /webhooks                  the webhooks this caller may manage (never a secret)
 *   DELETE /webhooks/:id              remove one, and its queue
 *   POST   /webhooks/:id/test         queue a webhook.test event for it → 202
 *   GET    /webhooks/:id/deliveries   its last attempts: status, duration, next retry
 *
 * Registered on the admin app by api.ts (webhookRoutes), behind its token check; the
 * operations are the management core's (manage/webhooks.ts), which asks the authority table.
 */
import type { Hono } from "hono";
import type { AppEnv, Ctx } from "../http/context";
import { webhookCreate, webhookDelete, webhookDeliveries, webhookList, webhookTest } from "../webhooks";
import type { AdminHelpers } from "./orgs";

export function webhookRoutes(admin: Hono<AppEnv>, h: AdminHelpers): void {
  admin.post("/webhooks", h.jsonBody as never, async (c: Ctx) => {
    const body = (c.req.valid as (t: "json") => unknown)("json");
    return h.answer(c, await webhookCreate(...h.core(c), body), 201);
  });
  admin.get("/webhooks", async (c) => {
    const q = h.query(c);
    if (Array.isArray(q)) return h.invalid(c, q);
    const unknown = Object.keys(q);
    if (unknown.length)
      return h.invalid(
        c,
        unknown.map((field) => ({ field, message: "unknown parameter" })),
      );
    return h.answer(c, await webhookList(...h.core(c)));
  });
  admin.delete("/webhooks/:id", async (c) => h.answer(c, await webhookDelete(...h.core(c), c.req.param("id"))));
  admin.post("/webhooks/:id/test", async (c) => {
    const outcome = await webhookTest(...h.core(c), c.req.param("id"));
    return outcome.ok ? c.json(outcome.value, 202) : h.answer(c, outcome);
  });
  admin.get("/webhooks/:id/deliveries", async (c) => {
    const q = h.query(c);
    return Array.isArray(q)
      ? h.invalid(c, q)
      : h.answer(c, await webhookDeliveries(...h.core(c), c.req.param("id"), q));
  });
}

/** For api.ts's 405 answers. */
export const WEBHOOK_ENDPOINTS: [RegExp, string][] = [
  [/^\/webhooks$/, "GET, HEAD, POST"],
  [/^\/webhooks\/[^/]+$/, "DELETE"],
  [/^\/webhooks\/[^/]+\/test$/, "POST"],
  [/^\/webhooks\/[^/]+\/deliveries$/, "GET, HEAD"],
];
