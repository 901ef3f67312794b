/**
 * GET /usage?org=ORG[&key=ID][&from=ISO&to=ISO][&granularity=minute|hour|day] (docs/usage.md):
 * `{"totals": {"requests", "forwarded", "rejected", "rejected_by_status"}, "series": […]}` from
 * the org's UsageStore object. Registered by app.ts next to the org endpoints; the operation
 * is the management core's (manage/orgs.ts `usage`), authorized by the authority table.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../http/context";
import { usage } from "../orgs";
import type { AdminHelpers } from "./orgs";

export function usageRoutes(admin: Hono<AppEnv>, h: AdminHelpers): void {
  admin.get("/usage", async (c) => {
    const q = h.query(c);
    return Array.isArray(q) ? h.invalid(c, q) : h.answer(c, await usage(...h.core(c), q));
  });
}

export const USAGE_ENDPOINTS: [RegExp, string][] = [[/^\/usage$/, "GET, HEAD"]];
